//go:build unix

package aio

import (
	"io/fs"
	"path"
	"syscall"
	"time"
)

// fileStat is the fs.FileInfo of Stat, Lstat and File.Stat, as the os
// package's: Sys returns a *syscall.Stat_t.
type fileStat struct {
	name    string
	size    int64
	mode    fs.FileMode
	modTime time.Time
	sys     syscall.Stat_t
}

func (s *fileStat) Name() string       { return s.name }
func (s *fileStat) Size() int64        { return s.size }
func (s *fileStat) Mode() fs.FileMode  { return s.mode }
func (s *fileStat) ModTime() time.Time { return s.modTime }
func (s *fileStat) IsDir() bool        { return s.mode.IsDir() }
func (s *fileStat) Sys() any           { return &s.sys }

// newFileStat fills the rest of s from s.sys, as os does (its
// fillFileStatFromSys); name is reduced to its last element.
func newFileStat(s *fileStat, name string) fs.FileInfo {
	s.name = path.Base(name)
	if name == "" {
		s.name = "."
	}
	s.size = s.sys.Size
	s.modTime = time.Unix(statMtime(&s.sys).Unix())
	mode := uint32(s.sys.Mode)
	s.mode = fs.FileMode(mode & 0o777)
	switch mode & syscall.S_IFMT {
	case syscall.S_IFBLK:
		s.mode |= fs.ModeDevice
	case syscall.S_IFCHR:
		s.mode |= fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFDIR:
		s.mode |= fs.ModeDir
	case syscall.S_IFIFO:
		s.mode |= fs.ModeNamedPipe
	case syscall.S_IFLNK:
		s.mode |= fs.ModeSymlink
	case syscall.S_IFSOCK:
		s.mode |= fs.ModeSocket
	}
	if mode&syscall.S_ISGID != 0 {
		s.mode |= fs.ModeSetgid
	}
	if mode&syscall.S_ISUID != 0 {
		s.mode |= fs.ModeSetuid
	}
	if mode&syscall.S_ISVTX != 0 {
		s.mode |= fs.ModeSticky
	}
	return s
}

// sameFile reports whether a and b (from Stat or Lstat) describe the
// same file, as os.SameFile.
func sameFile(a, b fs.FileInfo) bool {
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && sa.Dev == sb.Dev && sa.Ino == sb.Ino
}
