package iocp

import (
	"bytes"
	"math"
	"syscall"

	"golang.org/x/sys/windows"
)

// open is KindOpen: CreateFile with FILE_FLAG_OVERLAPPED, the flags
// translated as syscall.Open translates them (os.O_* on Windows are
// syscall.O_*), the handle not inheritable. path is NUL-terminated UTF-8.
// The handle is the result, as a count.
func (d *Driver) open(path []byte, flag int, perm uint32) (uint32, error) {
	name, ok := bytes.CutSuffix(path, []byte{0})
	if !ok || len(name) == 0 {
		return 0, windows.ERROR_FILE_NOT_FOUND
	}
	namep, err := windows.UTF16PtrFromString(string(name))
	if err != nil {
		return 0, syscall.EINVAL
	}
	var access uint32
	switch flag & (syscall.O_RDONLY | syscall.O_WRONLY | syscall.O_RDWR) {
	case syscall.O_RDONLY:
		access = windows.GENERIC_READ
	case syscall.O_WRONLY:
		access = windows.GENERIC_WRITE
	case syscall.O_RDWR:
		access = windows.GENERIC_READ | windows.GENERIC_WRITE
	}
	if flag&syscall.O_CREAT != 0 {
		access |= windows.GENERIC_WRITE
	}
	if flag&syscall.O_APPEND != 0 {
		// All that GENERIC_WRITE grants but FILE_WRITE_DATA (unless O_TRUNC
		// needs it), as syscall.Open does; writes at the position go to
		// the end of the file (offset 0xFFFFFFFF'FFFFFFFF).
		if flag&syscall.O_TRUNC == 0 {
			access &^= windows.GENERIC_WRITE
		}
		access |= windows.FILE_APPEND_DATA | windows.FILE_WRITE_ATTRIBUTES | windows.FILE_WRITE_EA |
			windows.STANDARD_RIGHTS_WRITE | windows.SYNCHRONIZE
	}
	attrs := uint32(windows.FILE_ATTRIBUTE_NORMAL)
	if perm&0o200 == 0 && flag&syscall.O_CREAT != 0 {
		attrs = windows.FILE_ATTRIBUTE_READONLY
	}
	attrs |= windows.FILE_FLAG_OVERLAPPED
	if flag&(syscall.O_WRONLY|syscall.O_RDWR) == 0 {
		attrs |= windows.FILE_FLAG_BACKUP_SEMANTICS // directories open for reading
	}
	if flag&syscall.O_SYNC != 0 {
		attrs |= windows.FILE_FLAG_WRITE_THROUGH
	}
	var createmode uint32
	switch {
	case flag&(syscall.O_CREAT|syscall.O_EXCL) == syscall.O_CREAT|syscall.O_EXCL:
		createmode = windows.CREATE_NEW
		attrs |= windows.FILE_FLAG_OPEN_REPARSE_POINT // don't follow symlinks
	case flag&syscall.O_CREAT != 0:
		createmode = windows.OPEN_ALWAYS
	default:
		createmode = windows.OPEN_EXISTING
	}
	h, err := windows.CreateFile(namep, access, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, nil, createmode, attrs, 0)
	if err != nil {
		return 0, err
	}
	if flag&syscall.O_TRUNC != 0 && createmode != windows.CREATE_NEW {
		if err := windows.Ftruncate(h, 0); err != nil {
			// Unix ignores O_TRUNC on pipes and devices; so does syscall.Open.
			if t, terr := windows.GetFileType(h); err != windows.ERROR_INVALID_PARAMETER || terr != nil ||
				(t != windows.FILE_TYPE_PIPE && t != windows.FILE_TYPE_CHAR) {
				windows.CloseHandle(h)
				return 0, err
			}
		}
	}
	if uint64(h) > math.MaxInt32 { // Record.Res is an int32; handles are small
		windows.CloseHandle(h)
		return 0, windows.ERROR_TOO_MANY_OPEN_FILES
	}
	if flag&syscall.O_APPEND != 0 {
		d.appendMu.Lock()
		d.appendFresh[h] = true
		d.appendMu.Unlock()
	}
	return uint32(h), nil
}
