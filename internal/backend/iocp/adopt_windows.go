package iocp

import (
	"io"

	"golang.org/x/sys/windows"
)

// Adopt returns the driver's own handle for the file a caller's handle h
// is open on (Ring.NewFile), leaving h and its file object as they were.
// A disk file is reopened overlapped, so that its operations go through
// the port; anything else, or a disk file that cannot be reopened, is
// duplicated, and Attach picks its mode (see "Adopted handles" in the
// package doc).
func (d *Driver) Adopt(fd uintptr) (int, error) {
	h := windows.Handle(fd)
	if nh, appendOnly, err := reopen(h); err == nil {
		if appendOnly {
			d.appendMu.Lock()
			d.appendFresh[nh] = true
			d.appendMu.Unlock()
		}
		return int(nh), nil
	}
	p := windows.CurrentProcess()
	var dup windows.Handle
	err := windows.DuplicateHandle(p, h, p, &dup, 0, false, windows.DUPLICATE_SAME_ACCESS)
	return int(dup), err
}

// reopen opens the disk file h is open on again, overlapped, with h's
// access rights, its caching flags and its position. appendOnly reports
// that h may append but not write (os.O_APPEND).
func reopen(h windows.Handle) (nh windows.Handle, appendOnly bool, err error) {
	if t, err := windows.GetFileType(h); err != nil || t != windows.FILE_TYPE_DISK {
		return 0, false, windows.ERROR_NOT_SUPPORTED
	}
	access, err := grantedAccess(h)
	if err != nil {
		return 0, false, err
	}
	mode, err := fileMode(h)
	if err != nil {
		return 0, false, err
	}
	// BACKUP_SEMANTICS: a directory reopens too. Not DELETE_ON_CLOSE,
	// whatever h has: closing the File must not delete the file.
	flags := uint32(windows.FILE_FLAG_OVERLAPPED | windows.FILE_FLAG_BACKUP_SEMANTICS)
	for _, m := range []struct{ mode, flag uint32 }{
		{windows.FILE_WRITE_THROUGH, windows.FILE_FLAG_WRITE_THROUGH}, // os.O_SYNC
		{windows.FILE_NO_INTERMEDIATE_BUFFERING, windows.FILE_FLAG_NO_BUFFERING},
		{windows.FILE_SEQUENTIAL_ONLY, windows.FILE_FLAG_SEQUENTIAL_SCAN},
		{windows.FILE_RANDOM_ACCESS, windows.FILE_FLAG_RANDOM_ACCESS},
	} {
		if mode&m.mode != 0 {
			flags |= m.flag
		}
	}
	// Sharing everything never conflicts with the access of h or of any
	// other open of the file; h's own share mode cannot be queried.
	nh, err = reOpenFile(h, access, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE, flags)
	if err != nil {
		return 0, false, err
	}
	if pos, err := windows.Seek(h, 0, io.SeekCurrent); err == nil && pos != 0 {
		if _, err := windows.Seek(nh, pos, io.SeekStart); err != nil {
			windows.CloseHandle(nh)
			return 0, false, err
		}
	}
	return nh, access&(windows.FILE_WRITE_DATA|windows.FILE_APPEND_DATA) == windows.FILE_APPEND_DATA, nil
}
