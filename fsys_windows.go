package aio

import (
	"io"
	"io/fs"
	"time"
)

// The file system operations on Windows are the iocp backend's to do
// (SetFilePointerEx, GetFileInformationByHandleEx, SetFileInformationByHandle,
// MoveFileEx, CreateDirectory, FindFirstFile, ...). Until it does, its
// Supported refuses their kinds, and every method fails with an
// *UnsupportedError (errors.ErrUnsupported) before anything is submitted;
// the definitions below only let the package build.

const (
	atFDCWD           = -100
	atRemoveDir       = 0x200
	atSymlinkNoFollow = 0x100
	oDirectory        = 0
	oNofollow         = 0
	oPathDir          = 0
	oPathAny          = 0
	statFlagsFD       = 0
	hasOpenat2        = false
	skipZeroIno       = false
)

// statBuf would hold what a Windows stat fills.
type statBuf struct{ b [64]byte }

func (b *statBuf) bytes() []byte { return b.b[:] }

func (b *statBuf) fileInfo(name string) fs.FileInfo { return &winFileInfo{name: name} }

// winFileInfo is a placeholder fs.FileInfo.
type winFileInfo struct{ name string }

func (i *winFileInfo) Name() string       { return i.name }
func (i *winFileInfo) Size() int64        { return 0 }
func (i *winFileInfo) Mode() fs.FileMode  { return 0 }
func (i *winFileInfo) ModTime() time.Time { return time.Time{} }
func (i *winFileInfo) IsDir() bool        { return false }
func (i *winFileInfo) Sys() any           { return nil }

func sameFile(a, b fs.FileInfo) bool { return false }

func direntMode(typ uint8) (fs.FileMode, bool) { return 0, false }

func parseDirent(buf []byte) (reclen int, ino uint64, name []byte, typ uint8, ok bool) {
	return 0, 0, nil, 0, false
}

func validWhence(whence int) bool {
	return whence == io.SeekStart || whence == io.SeekCurrent || whence == io.SeekEnd
}

func openHowBeneath(flags int) []byte { return nil }
