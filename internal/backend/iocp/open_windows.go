package iocp

import (
	"bytes"
	"syscall"

	"golang.org/x/sys/windows"
)

// openPath is KindOpen: open, whose ERROR_PATH_NOT_FOUND (a directory
// on the way is missing) says ENOENT, as open(2) does and portable
// callers compare with; os keeps ERROR_PATH_NOT_FOUND, which matches
// fs.ErrNotExist too. Not with ODirectory (Ring.ReadDir's open, compared
// with os.ReadDir's): there it is os's ENOTDIR, which is the same code.
func (d *Driver) openPath(path []byte, flag int, perm uint32) (uint32, error) {
	n, err := d.open(path, flag, perm)
	if err == windows.ERROR_PATH_NOT_FOUND && flag&ODirectory == 0 {
		err = syscall.ENOENT
	}
	return n, err
}

// open is KindOpen's and KindOpenAt's CreateFile with FILE_FLAG_OVERLAPPED, the flags
// translated as syscall.Open translates them (os.O_* on Windows are
// syscall.O_*), the handle not inheritable. path is NUL-terminated UTF-8.
// The handle is the result, as a count. As with syscall.Open, a directory
// opened for writing fails with EISDIR and, with ODirectory, anything but
// a directory with ENOTDIR; ONofollow (KindOpenAt's) opens a symbolic
// link itself and fails with ELOOP.
func (d *Driver) open(path []byte, flag int, perm uint32) (uint32, error) {
	return d.openShare(path, flag, perm, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE)
}

// openShare is open with the given share mode.
func (d *Driver) openShare(path []byte, flag int, perm uint32, share uint32) (uint32, error) {
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
	switch flag & (syscall.O_RDONLY | syscall.O_WRONLY | syscall.O_RDWR) {
	case syscall.O_WRONLY, syscall.O_RDWR:
		// No directory opens for writing: CreateFile refuses it (EISDIR
		// below).
	default:
		// Directories open for reading; O_WRONLY|O_RDWR, as in
		// syscall.Open, opens with no access but to the attributes (what
		// os.RemoveAll takes a parent directory with).
		attrs |= windows.FILE_FLAG_BACKUP_SEMANTICS
	}
	if flag&syscall.O_SYNC != 0 {
		attrs |= windows.FILE_FLAG_WRITE_THROUGH
	}
	if flag&ONofollow != 0 {
		attrs |= windows.FILE_FLAG_OPEN_REPARSE_POINT
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
	h, err := windows.CreateFile(namep, access, share, nil, createmode, attrs, 0)
	if err != nil {
		if err == windows.ERROR_ACCESS_DENIED && attrs&windows.FILE_FLAG_BACKUP_SEMANTICS == 0 {
			// Opened for writing: a directory says so, as in syscall.Open.
			if fa, e1 := windows.GetFileAttributes(namep); e1 == nil && fa&windows.FILE_ATTRIBUTE_DIRECTORY != 0 {
				err = syscall.EISDIR
			}
		}
		return 0, err
	}
	if flag&ONofollow != 0 {
		if err := refuseLink(h); err != nil {
			windows.CloseHandle(h)
			return 0, err
		}
	}
	if flag&ODirectory != 0 {
		var fi windows.ByHandleFileInformation
		if err := windows.GetFileInformationByHandle(h, &fi); err != nil {
			windows.CloseHandle(h)
			return 0, err
		}
		if fi.FileAttributes&windows.FILE_ATTRIBUTE_DIRECTORY == 0 {
			windows.CloseHandle(h)
			return 0, syscall.ENOTDIR
		}
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
	n, err := d.handleResult(h)
	if err == nil && flag&syscall.O_APPEND != 0 {
		d.appendMu.Lock()
		d.appendFresh[h] = true
		d.appendMu.Unlock()
	}
	return n, err
}
