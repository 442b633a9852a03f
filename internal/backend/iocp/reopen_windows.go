package iocp

import (
	"io"

	"golang.org/x/sys/windows"
)

// Reopen opens the disk file h is open on again, overlapped, for a File
// to own: a new handle on a new file object, with h's access rights, its
// caching flags and its position; h and its file object are left as they
// were. Attach puts such a handle in port mode. Reopen fails for anything
// that is not a disk file, and for one ReOpenFile refuses (see "Adopted
// handles" in the package doc).
func Reopen(h windows.Handle) (windows.Handle, error) {
	if t, err := windows.GetFileType(h); err != nil || t != windows.FILE_TYPE_DISK {
		return 0, windows.ERROR_NOT_SUPPORTED
	}
	access, err := grantedAccess(h)
	if err != nil {
		return 0, err
	}
	mode, err := fileMode(h)
	if err != nil {
		return 0, err
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
	nh, err := reOpenFile(h, access, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE, flags)
	if err != nil {
		return 0, err
	}
	if pos, err := windows.Seek(h, 0, io.SeekCurrent); err == nil && pos != 0 {
		if _, err := windows.Seek(nh, pos, io.SeekStart); err != nil {
			windows.CloseHandle(nh)
			return 0, err
		}
	}
	return nh, nil
}

// appendOnly reports whether h may append to its file but not write at
// an offset (os.O_APPEND's access: FILE_APPEND_DATA without
// FILE_WRITE_DATA).
func appendOnly(h windows.Handle) bool {
	access, err := grantedAccess(h)
	return err == nil && access&(windows.FILE_WRITE_DATA|windows.FILE_APPEND_DATA) == windows.FILE_APPEND_DATA
}
