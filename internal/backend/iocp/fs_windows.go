package iocp

import (
	"errors"
	"math"
	"path/filepath"
	"strings"
	"syscall"
	"unicode/utf16"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/waitforit/aio/internal/core"
)

// The values package aio puts in the file system records it submits to
// this backend (core.Kind says what each field means). Windows has no
// *at(2) calls and no O_DIRECTORY: these are invented, as package
// syscall's O_ values are on Windows, and chosen apart from them.
const (
	AtFDCWD           = -100  // Record.FD: the path is relative to the working directory, not to a handle
	AtSymlinkNoFollow = 0x100 // KindStat: do not follow a final symbolic link (os.Lstat)
	AtRemoveDir       = 0x200 // KindUnlink: remove a directory (RemoveDirectory)
	RemoveAny         = 0x400 // KindUnlink: os.Remove's whole algorithm (DeleteFile, else RemoveDirectory)
	ODirectory        = 0x04000
	ONofollow         = 0x08000
)

// Stat is what KindStat writes into its record's Buf: the fields of os's
// Windows fileStat, and, when the stat failed, which call failed (os
// names its errors after it: "GetFileAttributesEx", "CreateFile", ...).
type Stat struct {
	FileAttributes uint32
	CreationTime   windows.Filetime
	LastAccessTime windows.Filetime
	LastWriteTime  windows.Filetime
	FileSizeHigh   uint32
	FileSizeLow    uint32
	ReparseTag     uint32
	FileType       uint32 // GetFileType's answer; 0 (FILE_TYPE_UNKNOWN) when os would not ask
	Volume         uint32 // with FileIndexHigh and FileIndexLow, when HasID is 1
	FileIndexHigh  uint32
	FileIndexLow   uint32
	HasID          uint32
	Failed         uint32 // which call failed: an index into statCalls
}

var statCalls = [...]string{"", "GetFileAttributesEx", "FindFirstFile", "CreateFile", "GetFileType",
	"GetFileInformationByHandle", "GetFileInformationByHandleEx", "Stat", "Lstat"}

const (
	callGetFileAttributesEx = iota + 1
	callFindFirstFile
	callCreateFile
	callGetFileType
	callGetFileInformationByHandle
	callGetFileInformationByHandleEx
	callStat
	callLstat
)

// FailedCall names the call whose error a failed KindStat reports, as
// os's *fs.PathError Op does on Windows, or "" when none was recorded.
func (s *Stat) FailedCall() string {
	if int(s.Failed) < len(statCalls) {
		return statCalls[s.Failed]
	}
	return ""
}

// statOf returns the Stat a KindStat record's Buf holds.
func statOf(buf []byte) (*Stat, error) {
	if len(buf) < int(unsafe.Sizeof(Stat{})) {
		return nil, syscall.EINVAL
	}
	return (*Stat)(unsafe.Pointer(&buf[0])), nil
}

// IsNameSurrogate reports whether the file is a reparse point standing
// for another name (a symbolic link, a mount point), as os decides.
func (s *Stat) IsNameSurrogate() bool {
	return s.FileAttributes&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0 && s.ReparseTag&0x20000000 != 0
}

// cstr is a record's NUL-terminated path as a Go string.
func cstr(p []byte) string {
	if n := len(p); n > 0 && p[n-1] == 0 {
		p = p[:n-1]
	}
	return string(p)
}

// utf16Ptr converts a path for a Win32 call; a NUL inside is EINVAL, as
// in package syscall.
func utf16Ptr(s string) (*uint16, error) {
	p, err := windows.UTF16PtrFromString(s)
	if err != nil {
		return nil, syscall.EINVAL
	}
	return p, nil
}

func isSep(c byte) bool { return c == '\\' || c == '/' }

// statPath is os.Stat (follow) or os.Lstat of name on Windows, call for
// call (os's stat in stat_windows.go), into st.
func statPath(name string, follow bool, st *Stat) error {
	call := uint32(callStat) // os's errors before any call name the function
	if !follow {
		call = callLstat
	}
	if name == "" {
		st.Failed = call
		return windows.ERROR_PATH_NOT_FOUND
	}
	if !follow && isSep(name[len(name)-1]) {
		// os.Lstat follows a final link when the name ends in a
		// separator, as POSIX resolves "link/".
		follow = true
	}
	namep, err := utf16Ptr(name)
	if err != nil {
		st.Failed = call
		return err
	}
	var fa windows.Win32FileAttributeData
	err = windows.GetFileAttributesEx(namep, windows.GetFileExInfoStandard, (*byte)(unsafe.Pointer(&fa)))
	if err != nil && notExist(err) {
		st.Failed = callGetFileAttributesEx
		return err
	}
	if err == nil && fa.FileAttributes&windows.FILE_ATTRIBUTE_REPARSE_POINT == 0 {
		*st = Stat{FileAttributes: fa.FileAttributes, CreationTime: fa.CreationTime, LastAccessTime: fa.LastAccessTime,
			LastWriteTime: fa.LastWriteTime, FileSizeHigh: fa.FileSizeHigh, FileSizeLow: fa.FileSizeLow}
		return nil
	}
	if err == windows.ERROR_SHARING_VIOLATION {
		// c:\pagefile.sys and its like: FindFirstFile still sees them.
		var fd windows.Win32finddata
		sh, err := windows.FindFirstFile(namep, &fd)
		if err != nil {
			st.Failed = callFindFirstFile
			return err
		}
		windows.FindClose(sh)
		if fd.FileAttributes&windows.FILE_ATTRIBUTE_REPARSE_POINT == 0 {
			*st = Stat{FileAttributes: fd.FileAttributes, CreationTime: fd.CreationTime, LastAccessTime: fd.LastAccessTime,
				LastWriteTime: fd.LastWriteTime, FileSizeHigh: fd.FileSizeHigh, FileSizeLow: fd.FileSizeLow}
			return nil
		}
	}
	// A reparse point: is it a name surrogate (a link)? Open the point
	// itself (BACKUP_SEMANTICS: directories too).
	flags := uint32(windows.FILE_FLAG_BACKUP_SEMANTICS | windows.FILE_FLAG_OPEN_REPARSE_POINT)
	h, err := windows.CreateFile(namep, 0, 0, nil, windows.OPEN_EXISTING, flags, 0)
	if err == windows.ERROR_INVALID_PARAMETER {
		// Consoles ("\\.\con") want read access.
		h, err = windows.CreateFile(namep, windows.GENERIC_READ, 0, nil, windows.OPEN_EXISTING, flags, 0)
	}
	if err != nil {
		st.Failed = callCreateFile
		return err
	}
	err = statHandle(h, st)
	windows.CloseHandle(h)
	if err != nil || !follow || !st.IsNameSurrogate() {
		return err
	}
	// Follow it: open the target.
	h, err = windows.CreateFile(namep, 0, 0, nil, windows.OPEN_EXISTING, windows.FILE_FLAG_BACKUP_SEMANTICS, 0)
	if err != nil {
		*st = Stat{Failed: callCreateFile}
		return err
	}
	defer windows.CloseHandle(h)
	return statHandle(h, st)
}

// notExist reports whether err says the file is not there, as
// errors.Is(err, fs.ErrNotExist) does for a Windows errno.
func notExist(err error) bool {
	switch err {
	case windows.ERROR_FILE_NOT_FOUND, windows.ERROR_PATH_NOT_FOUND, windows.ERROR_BAD_NETPATH:
		return true
	}
	return false
}

// statHandle is os's statHandle: the file h is open on.
func statHandle(h windows.Handle, st *Stat) error {
	ft, err := windows.GetFileType(h)
	if err != nil {
		*st = Stat{Failed: callGetFileType}
		return err
	}
	if ft == windows.FILE_TYPE_PIPE || ft == windows.FILE_TYPE_CHAR {
		*st = Stat{FileType: ft}
		return nil
	}
	var d windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(h, &d); err != nil {
		*st = Stat{Failed: callGetFileInformationByHandle}
		return err
	}
	var tag uint32
	if d.FileAttributes&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0 {
		var ti fileAttributeTagInfo
		if err := windows.GetFileInformationByHandleEx(h, windows.FileAttributeTagInfo, (*byte)(unsafe.Pointer(&ti)), uint32(unsafe.Sizeof(ti))); err != nil {
			*st = Stat{Failed: callGetFileInformationByHandleEx}
			return err
		}
		tag = ti.ReparseTag
	}
	*st = Stat{FileAttributes: d.FileAttributes, CreationTime: d.CreationTime, LastAccessTime: d.LastAccessTime,
		LastWriteTime: d.LastWriteTime, FileSizeHigh: d.FileSizeHigh, FileSizeLow: d.FileSizeLow, ReparseTag: tag,
		FileType: ft, Volume: d.VolumeSerialNumber, FileIndexHigh: d.FileIndexHigh, FileIndexLow: d.FileIndexLow, HasID: 1}
	return nil
}

// fileAttributeTagInfo is FILE_ATTRIBUTE_TAG_INFO.
type fileAttributeTagInfo struct {
	FileAttributes uint32
	ReparseTag     uint32
}

// fileStandardInfo is FILE_STANDARD_INFO.
type fileStandardInfo struct {
	AllocationSize int64
	EndOfFile      int64
	NumberOfLinks  uint32
	DeletePending  byte
	Directory      byte
}

func standardInfo(h windows.Handle) (fileStandardInfo, error) {
	var si fileStandardInfo
	err := windows.GetFileInformationByHandleEx(h, windows.FileStandardInfo, (*byte)(unsafe.Pointer(&si)), uint32(unsafe.Sizeof(si)))
	return si, err
}

// stat is KindStat: of the handle itself (an empty path), of a path
// relative to the working directory (os.Stat, os.Lstat), or of a name in
// the directory dir (os.Root's lstatat: the name opened with NtCreateFile
// relative to dir, then statHandle).
func stat(fd int, path []byte, flags int, buf []byte) error {
	st, err := statOf(buf)
	if err != nil {
		return err
	}
	*st = Stat{}
	name := cstr(path)
	follow := flags&AtSymlinkNoFollow == 0
	switch {
	case fd == AtFDCWD:
		return statPath(name, follow, st)
	case name == "":
		return statHandle(windows.Handle(fd), st)
	}
	options := uint32(windows.FILE_SYNCHRONOUS_IO_NONALERT)
	if !follow {
		options |= windows.FILE_OPEN_REPARSE_POINT
	}
	h, err := ntOpen(windows.Handle(fd), name, windows.FILE_READ_ATTRIBUTES|windows.SYNCHRONIZE, windows.FILE_OPEN, options, 0)
	if err != nil {
		st.Failed = callCreateFile
		return ntError(err, false)
	}
	defer windows.CloseHandle(h)
	return statHandle(h, st)
}

// ntOpen opens name relative to the directory handle dir with
// NtCreateFile, sharing everything ("" and "." name dir itself: a new
// handle on it). Its error is the NTSTATUS, for ntError.
func ntOpen(dir windows.Handle, name string, access, disposition, options, attrs uint32) (windows.Handle, error) {
	if name == "." {
		name = ""
	}
	name = strings.ReplaceAll(name, "/", `\`)
	oname, err := windows.NewNTUnicodeString(name)
	if err != nil {
		return 0, syscall.EINVAL
	}
	oa := windows.OBJECT_ATTRIBUTES{RootDirectory: dir, ObjectName: oname, Attributes: windows.OBJ_CASE_INSENSITIVE}
	oa.Length = uint32(unsafe.Sizeof(oa))
	var h windows.Handle
	var iosb windows.IO_STATUS_BLOCK
	err = windows.NtCreateFile(&h, access, &oa, &iosb, nil, attrs,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE,
		disposition, windows.FILE_OPEN_FOR_BACKUP_INTENT|options, 0, 0)
	if err != nil {
		return 0, err
	}
	return h, nil
}

// ntError maps an NtCreateFile error to the errno os reports for it (its
// ntCreateFileError): a directory where none was wanted is EISDIR, a
// file where a directory was wanted ENOTDIR (only when the caller asked
// for a directory), a name taken EEXIST; anything else the Win32 error
// RtlNtStatusToDosError gives.
func ntError(err error, wantDir bool) error {
	s, ok := err.(windows.NTStatus)
	if !ok {
		return err
	}
	switch s {
	case windows.STATUS_REPARSE_POINT_ENCOUNTERED:
		return syscall.ELOOP
	case windows.STATUS_NOT_A_DIRECTORY:
		if wantDir {
			return syscall.ENOTDIR
		}
	case windows.STATUS_FILE_IS_A_DIRECTORY:
		return syscall.EISDIR
	case windows.STATUS_OBJECT_NAME_COLLISION:
		return syscall.EEXIST
	}
	return s.Errno()
}

// openAt is KindOpenAt: a path (AtFDCWD: as Open, with CreateFile) or a
// name in the directory fd (NtCreateFile relative to it), overlapped, so
// that the File made of it runs in port mode, and shared for reading,
// writing and deleting, as os.Root's opens are (a directory a DirFS
// holds open can be renamed or removed, as on Unix). ODirectory fails
// with ENOTDIR unless it is a directory; ONofollow fails with ELOOP if it
// is a symbolic link (or another name surrogate), which is opened itself
// and looked at, never followed.
func (d *Driver) openAt(fd int, path []byte, flag int, perm uint32) (uint32, error) {
	if fd == AtFDCWD {
		return d.openShare(path, flag, perm, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE)
	}
	name := cstr(path)
	var access, options uint32
	switch flag & (syscall.O_RDONLY | syscall.O_WRONLY | syscall.O_RDWR) {
	case syscall.O_RDONLY:
		access = windows.FILE_GENERIC_READ
	case syscall.O_WRONLY:
		access = windows.FILE_GENERIC_WRITE
		options |= windows.FILE_NON_DIRECTORY_FILE
	case syscall.O_RDWR:
		access = windows.FILE_GENERIC_READ | windows.FILE_GENERIC_WRITE
		options |= windows.FILE_NON_DIRECTORY_FILE
	}
	if flag&syscall.O_CREAT != 0 {
		access |= windows.FILE_GENERIC_WRITE
	}
	if flag&syscall.O_APPEND != 0 {
		access |= windows.FILE_APPEND_DATA
		if flag&syscall.O_TRUNC == 0 {
			access &^= windows.FILE_WRITE_DATA
		}
	}
	if flag&ODirectory != 0 {
		options |= windows.FILE_DIRECTORY_FILE
		access |= windows.FILE_LIST_DIRECTORY
	}
	if flag&syscall.O_SYNC != 0 {
		options |= windows.FILE_WRITE_THROUGH
	}
	if flag&ONofollow != 0 {
		options |= windows.FILE_OPEN_REPARSE_POINT
	}
	access |= windows.STANDARD_RIGHTS_READ | windows.FILE_READ_ATTRIBUTES | windows.FILE_READ_EA | windows.SYNCHRONIZE
	disposition := uint32(windows.FILE_OPEN)
	switch {
	case flag&(syscall.O_CREAT|syscall.O_EXCL) == syscall.O_CREAT|syscall.O_EXCL:
		disposition = windows.FILE_CREATE
		options |= windows.FILE_OPEN_REPARSE_POINT
	case flag&syscall.O_CREAT != 0:
		disposition = windows.FILE_OPEN_IF
	}
	attrs := uint32(windows.FILE_ATTRIBUTE_NORMAL)
	if perm&0o200 == 0 && flag&syscall.O_CREAT != 0 {
		attrs = windows.FILE_ATTRIBUTE_READONLY
	}
	// No FILE_SYNCHRONOUS_IO_*: the handle is overlapped.
	h, err := ntOpen(windows.Handle(fd), name, access, disposition, options, attrs)
	if err != nil {
		return 0, ntError(err, flag&ODirectory != 0)
	}
	if flag&ONofollow != 0 {
		if err := refuseLink(h); err != nil {
			windows.CloseHandle(h)
			return 0, err
		}
	}
	if flag&syscall.O_TRUNC != 0 && disposition != windows.FILE_CREATE {
		if err := windows.Ftruncate(h, 0); err != nil {
			windows.CloseHandle(h)
			return 0, err
		}
	}
	return d.handleResult(h)
}

// refuseLink is O_NOFOLLOW's check on a handle opened with
// FILE_OPEN_REPARSE_POINT: ELOOP if it is a name surrogate. (A reparse
// point of another kind, a deduplicated file say, is opened through
// FILE_OPEN_REPARSE_POINT as itself, which is what a read wants too.)
func refuseLink(h windows.Handle) error {
	var ti fileAttributeTagInfo
	if err := windows.GetFileInformationByHandleEx(h, windows.FileAttributeTagInfo, (*byte)(unsafe.Pointer(&ti)), uint32(unsafe.Sizeof(ti))); err != nil {
		return err
	}
	st := Stat{FileAttributes: ti.FileAttributes, ReparseTag: ti.ReparseTag}
	if st.IsNameSurrogate() {
		return syscall.ELOOP
	}
	return nil
}

// handleResult returns a new handle as a record's result, which is an
// int32 (handles are small).
func (d *Driver) handleResult(h windows.Handle) (uint32, error) {
	if uint64(h) > math.MaxInt32 {
		windows.CloseHandle(h)
		return 0, windows.ERROR_TOO_MANY_OPEN_FILES
	}
	return uint32(h), nil
}

// mkdir is KindMkdir: CreateDirectory, as os.Mkdir (perm means nothing
// on Windows), or NtCreateFile FILE_CREATE of a directory relative to fd.
func mkdir(fd int, path []byte) error {
	name := cstr(path)
	if fd == AtFDCWD {
		p, err := utf16Ptr(name)
		if err != nil {
			return err
		}
		return windows.CreateDirectory(p, nil)
	}
	h, err := ntOpen(windows.Handle(fd), name, windows.FILE_GENERIC_READ, windows.FILE_CREATE,
		windows.FILE_DIRECTORY_FILE|windows.FILE_SYNCHRONOUS_IO_NONALERT, windows.FILE_ATTRIBUTE_NORMAL)
	if err != nil {
		return ntError(err, false)
	}
	windows.CloseHandle(h)
	return nil
}

// rename is KindRename: MoveFileEx with MOVEFILE_REPLACE_EXISTING, as
// os.Rename.
func rename(path, path2 []byte) error {
	from, err := utf16Ptr(cstr(path))
	if err != nil {
		return err
	}
	to, err := utf16Ptr(cstr(path2))
	if err != nil {
		return err
	}
	return windows.MoveFileEx(from, to, windows.MOVEFILE_REPLACE_EXISTING)
}

// link is KindLink: CreateHardLink, as os.Link.
func link(path, path2 []byte) error {
	o, err := utf16Ptr(cstr(path))
	if err != nil {
		return err
	}
	n, err := utf16Ptr(cstr(path2))
	if err != nil {
		return err
	}
	return windows.CreateHardLink(n, o, 0)
}

// symbolicLinkFlagAllowUnprivilegedCreate is
// SYMBOLIC_LINK_FLAG_ALLOW_UNPRIVILEGED_CREATE (Windows 10 1703).
const symbolicLinkFlagAllowUnprivilegedCreate = 0x2

// symlink is KindSymlink: os.Symlink on Windows. A link to a directory
// must say so (SYMBOLIC_LINK_FLAG_DIRECTORY), so the target is looked up
// first, relative to the link's directory; a target that is missing makes
// a file link. The target is stored as given (aio converts slashes as os
// does): a relative target stays relative.
func symlink(path, path2 []byte) error {
	oldname, newname := cstr(path), cstr(path2)
	destpath := oldname
	if v := volumeNameLen(oldname); v == 0 {
		if len(oldname) > 0 && isSep(oldname[0]) {
			// Relative to the volume holding newname.
			if v := volumeNameLen(newname); v > 0 {
				destpath = newname[:v] + oldname
			}
		} else {
			destpath = dirname(newname) + `\` + oldname
		}
	}
	var st Stat
	isdir := statPath(destpath, true, &st) == nil && st.FileAttributes&windows.FILE_ATTRIBUTE_DIRECTORY != 0 && !st.IsNameSurrogate()
	n, err := utf16Ptr(newname)
	if err != nil {
		return err
	}
	o, err := utf16Ptr(oldname)
	if err != nil {
		return err
	}
	flags := uint32(symbolicLinkFlagAllowUnprivilegedCreate)
	if isdir {
		flags |= windows.SYMBOLIC_LINK_FLAG_DIRECTORY
	}
	if err := windows.CreateSymbolicLink(n, o, flags); err != nil {
		// Before Windows 10 1703 the flag is refused: without it.
		flags &^= symbolicLinkFlagAllowUnprivilegedCreate
		return windows.CreateSymbolicLink(n, o, flags)
	}
	return nil
}

// volumeNameLen is the length of path's volume name ("C:",
// `\\server\share`, `\\?\C:`...).
func volumeNameLen(path string) int { return len(filepath.VolumeName(path)) }

// dirname is os's dirname on Windows: path without its last element.
func dirname(path string) string {
	vol := volumeNameLen(path)
	i := len(path) - 1
	for i >= vol && !isSep(path[i]) {
		i--
	}
	dir := path[vol : i+1]
	last := len(dir) - 1
	if last > 0 && isSep(dir[last]) {
		dir = dir[:last]
	}
	if dir == "" {
		dir = "."
	}
	return path[:vol] + dir
}

// remove is KindUnlink. On a path: DeleteFile (flags 0), RemoveDirectory
// (AtRemoveDir), or os.Remove's algorithm (RemoveAny): DeleteFile, then
// RemoveDirectory, and if both failed the error that fits what the name
// is (a read-only file loses its attribute and is deleted, as os does).
// On a name in the directory fd: os.Root's deleteat (NtOpenFile for
// DELETE, then the disposition), refusing a directory unless AtRemoveDir
// (EISDIR) and anything else with it (ENOTDIR).
func remove(fd int, path []byte, flags int) error {
	name := cstr(path)
	if fd != AtFDCWD {
		opts := uint32(windows.FILE_NON_DIRECTORY_FILE)
		if flags&AtRemoveDir != 0 {
			opts = windows.FILE_DIRECTORY_FILE
		}
		return deleteAt(windows.Handle(fd), name, opts)
	}
	p, err := utf16Ptr(name)
	if err != nil {
		return err
	}
	switch flags {
	case 0:
		return windows.DeleteFile(p)
	case AtRemoveDir:
		return windows.RemoveDirectory(p)
	}
	e := windows.DeleteFile(p)
	if e == nil {
		return nil
	}
	e1 := windows.RemoveDirectory(p)
	if e1 == nil {
		return nil
	}
	if e1 != e {
		a, e2 := windows.GetFileAttributes(p)
		switch {
		case e2 != nil:
			e = e2
		case a&windows.FILE_ATTRIBUTE_DIRECTORY != 0:
			e = e1
		case a&windows.FILE_ATTRIBUTE_READONLY != 0:
			if e1 = windows.SetFileAttributes(p, a&^windows.FILE_ATTRIBUTE_READONLY); e1 == nil {
				if e = windows.DeleteFile(p); e == nil {
					return nil
				}
			}
		}
	}
	return e
}

// fileDispositionInformationEx is FILE_DISPOSITION_INFORMATION_EX's class.
const fileDispositionInformationEx = 64

// deleteAt is os.Root's Deleteat: name in dir, opened for DELETE without
// following a link, then marked for deletion with POSIX semantics (gone
// from the directory at once, even while open), or where the system or
// the file system lacks those (Wine 8 answers STATUS_NOT_IMPLEMENTED;
// FAT) with the classic disposition, after clearing a read-only
// attribute.
func deleteAt(dir windows.Handle, name string, options uint32) error {
	if name == "." {
		return syscall.EINVAL // rmdir(".") is EINVAL on POSIX
	}
	opts := windows.FILE_OPEN_REPARSE_POINT | options
	h, err := ntOpen(dir, name, windows.FILE_READ_ATTRIBUTES|windows.DELETE, windows.FILE_OPEN, opts, 0)
	if err == windows.STATUS_ACCESS_DENIED {
		// Restrictive permissions on the file: DELETE alone may still
		// be granted (delete-child on the directory).
		h, err = ntOpen(dir, name, windows.DELETE, windows.FILE_OPEN, opts, 0)
	}
	if err != nil {
		return ntError(err, false)
	}
	defer windows.CloseHandle(h)
	flags := uint32(windows.FILE_DISPOSITION_DELETE | windows.FILE_DISPOSITION_FORCE_IMAGE_SECTION_CHECK |
		windows.FILE_DISPOSITION_POSIX_SEMANTICS | windows.FILE_DISPOSITION_IGNORE_READONLY_ATTRIBUTE)
	var iosb windows.IO_STATUS_BLOCK
	err = windows.NtSetInformationFile(h, &iosb, (*byte)(unsafe.Pointer(&flags)), 4, fileDispositionInformationEx)
	switch err {
	case nil:
		return nil
	case windows.STATUS_INVALID_INFO_CLASS, windows.STATUS_INVALID_PARAMETER, windows.STATUS_NOT_SUPPORTED,
		windows.STATUS_NOT_IMPLEMENTED:
		return deleteFallback(h)
	}
	if s, ok := err.(windows.NTStatus); ok {
		return s.Errno()
	}
	return err
}

// deleteFallback deletes the file h is open on the classic way: clear
// its read-only attribute (through a handle that may write attributes),
// then set the delete disposition.
func deleteFallback(h windows.Handle) error {
	var d windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(h, &d); err == nil && d.FileAttributes&windows.FILE_ATTRIBUTE_READONLY != 0 {
		wh, err := reOpenFile(h, windows.FILE_WRITE_ATTRIBUTES, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE,
			windows.FILE_FLAG_OPEN_REPARSE_POINT|windows.FILE_FLAG_BACKUP_SEMANTICS)
		if err != nil {
			return err
		}
		bi := fileBasicInfo{FileAttributes: d.FileAttributes &^ windows.FILE_ATTRIBUTE_READONLY}
		err = windows.SetFileInformationByHandle(wh, windows.FileBasicInfo, (*byte)(unsafe.Pointer(&bi)), uint32(unsafe.Sizeof(bi)))
		windows.CloseHandle(wh)
		if err != nil {
			return err
		}
	}
	del := struct{ DeleteFile bool }{true} // FILE_DISPOSITION_INFO
	return windows.SetFileInformationByHandle(h, windows.FileDispositionInfo, (*byte)(unsafe.Pointer(&del)), uint32(unsafe.Sizeof(del)))
}

// fileBasicInfo is FILE_BASIC_INFO.
type fileBasicInfo struct {
	CreationTime, LastAccessTime, LastWriteTime, ChangeTime int64
	FileAttributes                                          uint32
	_                                                       uint32
}

// readlink is KindReadlink: the target of the link at path (AtFDCWD) or
// of the name path in the directory fd, as os.Readlink on Windows reads
// it (FSCTL_GET_REPARSE_POINT on the link itself), written into buf as
// UTF-8; the result is its length, or len(buf) when it did not fit (the
// caller asks again with more).
func readlink(fd int, path []byte, buf []byte) (uint32, error) {
	name := cstr(path)
	var h windows.Handle
	var err error
	if fd == AtFDCWD {
		p, perr := utf16Ptr(name)
		if perr != nil {
			return 0, perr
		}
		h, err = windows.CreateFile(p, 0, 0, nil, windows.OPEN_EXISTING,
			windows.FILE_FLAG_BACKUP_SEMANTICS|windows.FILE_FLAG_OPEN_REPARSE_POINT, 0)
	} else {
		h, err = ntOpen(windows.Handle(fd), name, windows.FILE_READ_ATTRIBUTES|windows.SYNCHRONIZE, windows.FILE_OPEN,
			windows.FILE_OPEN_REPARSE_POINT|windows.FILE_SYNCHRONOUS_IO_NONALERT, 0)
		if err != nil {
			err = ntError(err, false)
		}
	}
	if err != nil {
		return 0, err
	}
	defer windows.CloseHandle(h)
	target, err := readReparseLink(h)
	if err != nil {
		return 0, err
	}
	n := copy(buf, target)
	return uint32(n), nil
}

// reparseDataBuffer is REPARSE_DATA_BUFFER's header, followed by a
// symbolic link's or a mount point's buffer.
type reparseDataBuffer struct {
	ReparseTag        uint32
	ReparseDataLength uint16
	Reserved          uint16
	// The symbolic link and mount point buffers start the same way;
	// Flags is the symbolic link's alone (the mount point's names begin
	// there).
	SubstituteNameOffset uint16
	SubstituteNameLength uint16
	PrintNameOffset      uint16
	PrintNameLength      uint16
	Flags                uint32
}

const (
	symlinkFlagRelative = 1
	// reparseTagMountPoint is IO_REPARSE_TAG_MOUNT_POINT (a junction).
	reparseTagMountPoint = 0xA0000003
	// ReparseTagAFUnix and ReparseTagDedup are IO_REPARSE_TAG_AF_UNIX
	// (a unix socket) and IO_REPARSE_TAG_DEDUP (a deduplicated file).
	ReparseTagAFUnix = 0x80000023
	ReparseTagDedup  = 0x80000013
)

// readReparseLink is os's readReparseLinkHandle: the target of the link
// h is open on.
func readReparseLink(h windows.Handle) (string, error) {
	rdb := make([]byte, windows.MAXIMUM_REPARSE_DATA_BUFFER_SIZE)
	var n uint32
	if err := windows.DeviceIoControl(h, windows.FSCTL_GET_REPARSE_POINT, nil, 0, &rdb[0], uint32(len(rdb)), &n, nil); err != nil {
		return "", err
	}
	return parseReparseLink(rdb[:n])
}

// parseReparseLink reads a link's target from what FSCTL_GET_REPARSE_POINT
// wrote (a REPARSE_DATA_BUFFER): a symbolic link's substitute name, as
// stored if relative, normalised if absolute; a mount point's,
// normalised. Another kind of reparse point is not a link: ENOENT, as
// os says.
func parseReparseLink(rdb []byte) (string, error) {
	n := len(rdb)
	if n < int(unsafe.Sizeof(reparseDataBuffer{})) {
		return "", syscall.ENOENT // no room for a link's header: not a link
	}
	hdr := (*reparseDataBuffer)(unsafe.Pointer(&rdb[0]))
	names := func(start int) []uint16 {
		// The names are UTF-16 from start, within what the call wrote.
		b := rdb[start:n]
		return unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/2)
	}
	substitute := func(buf []uint16) string {
		lo, hi := int(hdr.SubstituteNameOffset)/2, int(hdr.SubstituteNameOffset+hdr.SubstituteNameLength)/2
		if hi > len(buf) {
			hi = len(buf)
		}
		if lo > hi {
			lo = hi
		}
		return string(utf16.Decode(buf[lo:hi]))
	}
	switch hdr.ReparseTag {
	case windows.IO_REPARSE_TAG_SYMLINK:
		s := substitute(names(int(unsafe.Sizeof(reparseDataBuffer{}))))
		if hdr.Flags&symlinkFlagRelative != 0 {
			return s, nil
		}
		return normaliseLinkPath(s), nil
	case reparseTagMountPoint:
		return normaliseLinkPath(substitute(names(int(unsafe.Offsetof(reparseDataBuffer{}.Flags))))), nil
	}
	// Not a link: another kind of reparse point.
	return "", syscall.ENOENT
}

// normaliseLinkPath is os's: the NT names of absolute targets as Win32
// takes them (\??\C:\x is C:\x, \??\UNC\s\x is \\s\x, a volume GUID
// path keeps its \\?\ prefix, as os does by default).
func normaliseLinkPath(path string) string {
	if len(path) < 4 || path[:4] != `\??\` {
		return path
	}
	s := path[4:]
	switch {
	case len(s) >= 2 && s[1] == ':':
		return s
	case len(s) >= 4 && s[:4] == `UNC\`:
		return `\\` + s[4:]
	}
	return `\\?\` + s
}

// seek is KindSeek: the position overlapped I/O does not have, kept by
// the driver (see "Positions" in the package doc). SeekEnd reads the size
// (FILE_STANDARD_INFO); a position before the start fails with
// ERROR_NEGATIVE_SEEK and an unknown whence with ERROR_INVALID_PARAMETER,
// as os's overlapped files do, and a handle without positions (a pipe, a
// console, a socket) with ESPIPE. A Seek restarts the reading of a
// directory, as os's does.
func (f *file) seek(off int64, whence int) (int64, error) {
	if !f.seekable {
		return 0, syscall.ESPIPE
	}
	f.seekMu.Lock()
	defer f.seekMu.Unlock()
	var base int64
	switch whence {
	case 0:
	case 1:
		base = f.pos.Load()
	case 2:
		si, err := standardInfo(f.h)
		if err != nil {
			return 0, err
		}
		base = si.EndOfFile
	default:
		return 0, windows.ERROR_INVALID_PARAMETER
	}
	pos := base + off
	if pos < 0 {
		return 0, windows.ERROR_NEGATIVE_SEEK
	}
	f.pos.Store(pos)
	f.dirRestart.Store(true)
	return pos, nil
}

// Linux's fallocate modes, which File.Allocate takes on every system.
const (
	fallocKeepSize  = 0x01
	fallocPunchHole = 0x02
)

// fileZeroDataInformation is FILE_ZERO_DATA_INFORMATION.
type fileZeroDataInformation struct {
	FileOffset, BeyondFinalZero int64
}

// Allocate is fallocate(2) done with what Windows has, for KindFallocate
// (and for tests, on handles of their own). Mode 0 extends the file to
// off+length if it is shorter (FileEndOfFileInfo, which allocates the
// clusters up to the new end); FALLOC_FL_KEEP_SIZE reserves disk space up
// to off+length without changing the size (FileAllocationInfo; NTFS
// keeps an allocation beyond the end of a file only while it is open);
// FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE zeroes the range within the
// file (FSCTL_SET_ZERO_DATA, which frees it in a sparse file), leaving
// the size alone. Other modes fail with EOPNOTSUPP; a file system without
// the call fails with ERROR_CALL_NOT_IMPLEMENTED or ERROR_NOT_SUPPORTED
// (Wine 8 has neither of the last two): all match errors.ErrUnsupported.
// A handle without write access fails with ERROR_ACCESS_DENIED, as
// fallocate fails on a read-only descriptor.
func Allocate(h windows.Handle, mode uint32, off, length int64) error {
	if off < 0 || length <= 0 || off > math.MaxInt64-length {
		return windows.ERROR_INVALID_PARAMETER
	}
	switch mode {
	case 0, fallocKeepSize, fallocPunchHole | fallocKeepSize:
	default:
		return syscall.EOPNOTSUPP
	}
	if access, err := grantedAccess(h); err == nil && access&(windows.FILE_WRITE_DATA|windows.FILE_APPEND_DATA) == 0 {
		return windows.ERROR_ACCESS_DENIED
	}
	si, err := standardInfo(h)
	if err != nil {
		return err
	}
	end := off + length
	if mode == fallocPunchHole|fallocKeepSize {
		end = min(end, si.EndOfFile) // nothing to zero beyond the end
		if off >= end {
			return nil
		}
		return zeroData(h, off, end)
	}
	if mode == 0 {
		// Extending the end of the file allocates the clusters up to
		// it (NTFS; a sparse file stays sparse).
		if end > si.EndOfFile {
			return windows.Ftruncate(h, end)
		}
		return nil
	}
	if end > si.AllocationSize {
		// Reserve beyond the end. (Never set the allocation below the
		// end of the file: that would truncate it.)
		alloc := max(end, si.EndOfFile)
		return windows.SetFileInformationByHandle(h, windows.FileAllocationInfo, (*byte)(unsafe.Pointer(&alloc)), 8)
	}
	return nil
}

// zeroData is FSCTL_SET_ZERO_DATA of [off, end), waited for: with an
// OVERLAPPED whose event's low bit keeps a packet off any completion port
// the handle has (an overlapped handle needs one; a synchronous one
// ignores it).
func zeroData(h windows.Handle, off, end int64) error {
	ev, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		return err
	}
	defer windows.CloseHandle(ev)
	ov := &windows.Overlapped{HEvent: ev | 1}
	zd := &fileZeroDataInformation{FileOffset: off, BeyondFinalZero: end}
	var n uint32
	err = windows.DeviceIoControl(h, windows.FSCTL_SET_ZERO_DATA, (*byte)(unsafe.Pointer(zd)), uint32(unsafe.Sizeof(*zd)), nil, 0, &n, ov)
	if err == windows.ERROR_IO_PENDING {
		err = windows.GetOverlappedResult(h, ov, &n, true)
	}
	return err
}

// DirInfo is FILE_FULL_DIR_INFO, the records KindReadDir writes into its
// Buf (GetFileInformationByHandleEx with FileFullDirectoryInfo), each
// followed by its name in UTF-16.
type DirInfo struct {
	NextEntryOffset uint32
	FileIndex       uint32
	CreationTime    windows.Filetime
	LastAccessTime  windows.Filetime
	LastWriteTime   windows.Filetime
	ChangeTime      windows.Filetime
	EndOfFile       int64
	AllocationSize  int64
	FileAttributes  uint32
	FileNameLength  uint32
	EaSize          uint32 // the reparse tag, for a reparse point
	FileName        [1]uint16
}

// dirInfoHeader is the size of DirInfo without its name.
const dirInfoHeader = int(unsafe.Offsetof(DirInfo{}.FileName))

// ParseDirInfo reads the first record of buf (KindReadDir's result):
// its length (to the next record, or all of buf for the last), its name,
// and the file's attributes as os's directory entries have them (the
// reparse tag in ReparseTag; no file type, no file ID). ok is false for
// a record that does not fit in buf.
func ParseDirInfo(buf []byte) (reclen int, name string, st Stat, ok bool) {
	if len(buf) < dirInfoHeader {
		return 0, "", Stat{}, false
	}
	var di DirInfo
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&di)), dirInfoHeader), buf)
	nameEnd := dirInfoHeader + int(di.FileNameLength)
	if nameEnd > len(buf) || di.FileNameLength%2 != 0 {
		return 0, "", Stat{}, false
	}
	reclen = int(di.NextEntryOffset)
	if reclen == 0 || reclen > len(buf) {
		reclen = len(buf)
	}
	u := make([]uint16, di.FileNameLength/2)
	copy(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(u))), len(u)*2), buf[dirInfoHeader:nameEnd])
	st = Stat{FileAttributes: di.FileAttributes, CreationTime: di.CreationTime, LastAccessTime: di.LastAccessTime,
		LastWriteTime: di.LastWriteTime, FileSizeHigh: uint32(uint64(di.EndOfFile) >> 32), FileSizeLow: uint32(di.EndOfFile)}
	if di.FileAttributes&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0 {
		st.ReparseTag = di.EaSize
	}
	return reclen, string(utf16.Decode(u)), st, true
}

// readDir is KindReadDir: the next directory records of the directory
// f, into buf, read through a synchronous handle of the driver's own on
// the same directory (f.dirHandle: directory queries on an overlapped
// handle may complete later, into memory the call has given up). The
// first read, and the first after a Seek, starts over
// (FileFullDirectoryRestartInfo), as os's does. The result is the bytes
// of whole records, 0 at the end of the directory.
func readDir(f *file, buf []byte) (uint32, error) {
	if len(buf) < dirInfoHeader+2*256 {
		return 0, windows.ERROR_INSUFFICIENT_BUFFER
	}
	dh, err := f.dirHandle()
	if err != nil {
		return 0, err
	}
	restart := f.dirRestart.Swap(false)
	class := uint32(windows.FileFullDirectoryInfo)
	if restart {
		class = windows.FileFullDirectoryRestartInfo
	}
	err = windows.GetFileInformationByHandleEx(dh, class, &buf[0], uint32(len(buf)))
	switch {
	case err == windows.ERROR_NO_MORE_FILES:
		return 0, nil
	case err == windows.ERROR_FILE_NOT_FOUND && restart:
		// An empty root directory (MS-FSA 2.1.5.6.3), as os takes it.
		return 0, nil
	case err != nil:
		if restart {
			f.dirRestart.Store(true)
		}
		return 0, err
	}
	// The bytes of records: up to the end of the last one's name.
	off := 0
	for {
		di := (*DirInfo)(unsafe.Pointer(&buf[off]))
		if di.NextEntryOffset == 0 {
			end := off + dirInfoHeader + int(di.FileNameLength)
			if end > len(buf) {
				return 0, errors.New("iocp: inconsistent directory record")
			}
			return uint32(end), nil
		}
		off += int(di.NextEntryOffset)
		if off+dirInfoHeader > len(buf) {
			return 0, errors.New("iocp: inconsistent directory record")
		}
	}
}

// dirHandle returns f's synchronous handle for reading its directory,
// opening it on first use (NtCreateFile relative to f.h with an empty
// name: the same directory, a file object of its own).
func (f *file) dirHandle() (windows.Handle, error) {
	f.dirMu.Lock()
	defer f.dirMu.Unlock()
	if f.dirh != 0 {
		return f.dirh, nil
	}
	h, err := ntOpen(f.h, "", windows.FILE_LIST_DIRECTORY|windows.FILE_READ_ATTRIBUTES|windows.SYNCHRONIZE, windows.FILE_OPEN,
		windows.FILE_DIRECTORY_FILE|windows.FILE_SYNCHRONOUS_IO_NONALERT, 0)
	if err != nil {
		return 0, ntError(err, false)
	}
	f.dirh = h
	return h, nil
}

// closeDirHandle closes f's directory handle, if it has one (Detach).
func (f *file) closeDirHandle() {
	f.dirMu.Lock()
	defer f.dirMu.Unlock()
	if f.dirh != 0 {
		windows.CloseHandle(f.dirh)
		f.dirh = 0
	}
}

// isFSKind reports whether k is a file system operation: its errors are
// the Windows errors os reports, untranslated (see result).
func isFSKind(k core.Kind) bool {
	switch k {
	case core.KindFsync, core.KindStat, core.KindFtruncate, core.KindFallocate, core.KindFadvise, core.KindSeek,
		core.KindReadDir, core.KindOpenAt, core.KindOpenat2, core.KindMkdir, core.KindRename, core.KindUnlink,
		core.KindLink, core.KindSymlink, core.KindReadlink:
		return true
	}
	return false
}

// fsCall returns the blocking call that does the file system operation
// of r (every kind but KindSeek and KindFadvise, which never block), with
// everything it needs read from r now: after the handoff the record is
// the completer's.
func (d *Driver) fsCall(r *core.Record, f *file) func() (uint32, error) {
	fd, path, path2, buf, flags, mode := r.FD, r.Path, r.Path2, r.Buf, r.Flags, r.Mode
	off, length := r.Off, r.Len
	switch r.Kind {
	case core.KindStat:
		return func() (uint32, error) { return 0, stat(fd, path, flags, buf) }
	case core.KindFtruncate:
		return func() (uint32, error) { return 0, windows.Ftruncate(windows.Handle(fd), off) }
	case core.KindFallocate:
		return func() (uint32, error) { return 0, Allocate(windows.Handle(fd), uint32(flags), off, length) }
	case core.KindReadDir:
		return func() (uint32, error) { return readDir(f, buf) }
	case core.KindOpenAt:
		return func() (uint32, error) { return d.openAt(fd, path, flags, mode) }
	case core.KindMkdir:
		return func() (uint32, error) { return 0, mkdir(fd, path) }
	case core.KindRename:
		return func() (uint32, error) { return 0, rename(path, path2) }
	case core.KindUnlink:
		return func() (uint32, error) { return 0, remove(fd, path, flags) }
	case core.KindLink:
		return func() (uint32, error) { return 0, link(path, path2) }
	case core.KindSymlink:
		return func() (uint32, error) { return 0, symlink(path, path2) }
	case core.KindReadlink:
		return func() (uint32, error) { return readlink(fd, path, buf) }
	}
	panic("aio: inconsistent iocp file system kind " + r.Kind.String())
}

// checkFS refuses, before anything is submitted, a file system record
// this driver cannot do: the second name of a rename, link or symbolic
// link relative to a directory handle (package aio submits those with
// paths only).
func checkFS(r *core.Record) error {
	switch r.Kind {
	case core.KindRename, core.KindLink, core.KindSymlink:
		if r.FD != AtFDCWD {
			return &unsupportedAt{kind: r.Kind}
		}
	case core.KindReadDir:
		if _, ok := r.Handle.(*file); !ok {
			return syscall.EBADF
		}
	}
	return nil
}

type unsupportedAt struct{ kind core.Kind }

func (e *unsupportedAt) Error() string {
	return "iocp: " + e.kind.String() + " relative to a directory handle is not supported"
}

func (e *unsupportedAt) Unwrap() error { return errors.ErrUnsupported }
