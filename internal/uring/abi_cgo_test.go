//go:build linux && cgoabi

// This test checks our Go rendering of the io_uring ABI (abi_linux.go)
// against the system's <linux/io_uring.h>. Go does not allow import "C" in
// test files, so instead of cgo the test generates a small C program from the
// tables below, compiles it with gcc, runs it and compares what it prints
// with the Go constants and with unsafe.Sizeof/unsafe.Offsetof.
//
// It needs gcc and the kernel UAPI headers (Debian: gcc, linux-libc-dev),
// hence the opt-in tag:
//
//	CGO_ENABLED=1 go test -tags cgoabi -run ABI -v ./internal/uring

package uring

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/constant"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// abiConst maps one of our constants to its name in <linux/io_uring.h>.
type abiConst struct {
	goName string // identifier in abi_linux.go
	cName  string // macro or enumerator in <linux/io_uring.h>
	value  int64  // the Go constant itself
}

var abiConsts = []abiConst{
	// io_uring_setup(2) flags.
	{"SetupIOPoll", "IORING_SETUP_IOPOLL", SetupIOPoll},
	{"SetupSQPoll", "IORING_SETUP_SQPOLL", SetupSQPoll},
	{"SetupSQAff", "IORING_SETUP_SQ_AFF", SetupSQAff},
	{"SetupCQSize", "IORING_SETUP_CQSIZE", SetupCQSize},
	{"SetupClamp", "IORING_SETUP_CLAMP", SetupClamp},
	{"SetupAttachWQ", "IORING_SETUP_ATTACH_WQ", SetupAttachWQ},
	{"SetupRDisabled", "IORING_SETUP_R_DISABLED", SetupRDisabled},
	{"SetupSubmitAll", "IORING_SETUP_SUBMIT_ALL", SetupSubmitAll},
	{"SetupCoopTaskrun", "IORING_SETUP_COOP_TASKRUN", SetupCoopTaskrun},
	{"SetupTaskrunFlag", "IORING_SETUP_TASKRUN_FLAG", SetupTaskrunFlag},
	{"SetupSQE128", "IORING_SETUP_SQE128", SetupSQE128},
	{"SetupCQE32", "IORING_SETUP_CQE32", SetupCQE32},
	{"SetupSingleIssuer", "IORING_SETUP_SINGLE_ISSUER", SetupSingleIssuer},
	{"SetupDeferTaskrun", "IORING_SETUP_DEFER_TASKRUN", SetupDeferTaskrun},

	// Opcodes (enum io_uring_op).
	{"OpNop", "IORING_OP_NOP", int64(OpNop)},
	{"OpReadv", "IORING_OP_READV", int64(OpReadv)},
	{"OpWritev", "IORING_OP_WRITEV", int64(OpWritev)},
	{"OpFsync", "IORING_OP_FSYNC", int64(OpFsync)},
	{"OpReadFixed", "IORING_OP_READ_FIXED", int64(OpReadFixed)},
	{"OpWriteFixed", "IORING_OP_WRITE_FIXED", int64(OpWriteFixed)},
	{"OpPollAdd", "IORING_OP_POLL_ADD", int64(OpPollAdd)},
	{"OpPollRemove", "IORING_OP_POLL_REMOVE", int64(OpPollRemove)},
	{"OpSyncFileRange", "IORING_OP_SYNC_FILE_RANGE", int64(OpSyncFileRange)},
	{"OpSendmsg", "IORING_OP_SENDMSG", int64(OpSendmsg)},
	{"OpRecvmsg", "IORING_OP_RECVMSG", int64(OpRecvmsg)},
	{"OpTimeout", "IORING_OP_TIMEOUT", int64(OpTimeout)},
	{"OpTimeoutRemove", "IORING_OP_TIMEOUT_REMOVE", int64(OpTimeoutRemove)},
	{"OpAccept", "IORING_OP_ACCEPT", int64(OpAccept)},
	{"OpAsyncCancel", "IORING_OP_ASYNC_CANCEL", int64(OpAsyncCancel)},
	{"OpLinkTimeout", "IORING_OP_LINK_TIMEOUT", int64(OpLinkTimeout)},
	{"OpConnect", "IORING_OP_CONNECT", int64(OpConnect)},
	{"OpFallocate", "IORING_OP_FALLOCATE", int64(OpFallocate)},
	{"OpOpenat", "IORING_OP_OPENAT", int64(OpOpenat)},
	{"OpClose", "IORING_OP_CLOSE", int64(OpClose)},
	{"OpFilesUpdate", "IORING_OP_FILES_UPDATE", int64(OpFilesUpdate)},
	{"OpStatx", "IORING_OP_STATX", int64(OpStatx)},
	{"OpRead", "IORING_OP_READ", int64(OpRead)},
	{"OpWrite", "IORING_OP_WRITE", int64(OpWrite)},
	{"OpFadvise", "IORING_OP_FADVISE", int64(OpFadvise)},
	{"OpMadvise", "IORING_OP_MADVISE", int64(OpMadvise)},
	{"OpSend", "IORING_OP_SEND", int64(OpSend)},
	{"OpRecv", "IORING_OP_RECV", int64(OpRecv)},
	{"OpOpenat2", "IORING_OP_OPENAT2", int64(OpOpenat2)},
	{"OpEpollCtl", "IORING_OP_EPOLL_CTL", int64(OpEpollCtl)},
	{"OpSplice", "IORING_OP_SPLICE", int64(OpSplice)},
	{"OpProvideBuffers", "IORING_OP_PROVIDE_BUFFERS", int64(OpProvideBuffers)},
	{"OpRemoveBuffers", "IORING_OP_REMOVE_BUFFERS", int64(OpRemoveBuffers)},
	{"OpTee", "IORING_OP_TEE", int64(OpTee)},
	{"OpShutdown", "IORING_OP_SHUTDOWN", int64(OpShutdown)},
	{"OpRenameat", "IORING_OP_RENAMEAT", int64(OpRenameat)},
	{"OpUnlinkat", "IORING_OP_UNLINKAT", int64(OpUnlinkat)},
	{"OpMkdirat", "IORING_OP_MKDIRAT", int64(OpMkdirat)},
	{"OpSymlinkat", "IORING_OP_SYMLINKAT", int64(OpSymlinkat)},
	{"OpLinkat", "IORING_OP_LINKAT", int64(OpLinkat)},
	{"OpMsgRing", "IORING_OP_MSG_RING", int64(OpMsgRing)},
	{"OpFsetxattr", "IORING_OP_FSETXATTR", int64(OpFsetxattr)},
	{"OpSetxattr", "IORING_OP_SETXATTR", int64(OpSetxattr)},
	{"OpFgetxattr", "IORING_OP_FGETXATTR", int64(OpFgetxattr)},
	{"OpGetxattr", "IORING_OP_GETXATTR", int64(OpGetxattr)},
	{"OpSocket", "IORING_OP_SOCKET", int64(OpSocket)},
	{"OpUringCmd", "IORING_OP_URING_CMD", int64(OpUringCmd)},
	{"OpSendZC", "IORING_OP_SEND_ZC", int64(OpSendZC)},
	{"OpSendmsgZC", "IORING_OP_SENDMSG_ZC", int64(OpSendmsgZC)},

	// io_uring_sqe.flags.
	{"SQEFixedFile", "IOSQE_FIXED_FILE", SQEFixedFile},
	{"SQEIODrain", "IOSQE_IO_DRAIN", SQEIODrain},
	{"SQEIOLink", "IOSQE_IO_LINK", SQEIOLink},
	{"SQEIOHardlink", "IOSQE_IO_HARDLINK", SQEIOHardlink},
	{"SQEAsync", "IOSQE_ASYNC", SQEAsync},
	{"SQEBufferSelect", "IOSQE_BUFFER_SELECT", SQEBufferSelect},
	{"SQECQESkipSuccess", "IOSQE_CQE_SKIP_SUCCESS", SQECQESkipSuccess},

	// Special values and per-opcode flags.
	{"FileIndexAlloc", "IORING_FILE_INDEX_ALLOC", int64(FileIndexAlloc)},
	{"RegisterFilesSkip", "IORING_REGISTER_FILES_SKIP", RegisterFilesSkip},
	{"OpSupported", "IO_URING_OP_SUPPORTED", OpSupported},
	{"FsyncDatasync", "IORING_FSYNC_DATASYNC", FsyncDatasync},
	{"TimeoutAbs", "IORING_TIMEOUT_ABS", TimeoutAbs},
	{"TimeoutUpdate", "IORING_TIMEOUT_UPDATE", TimeoutUpdate},
	{"TimeoutBoottime", "IORING_TIMEOUT_BOOTTIME", TimeoutBoottime},
	{"TimeoutRealtime", "IORING_TIMEOUT_REALTIME", TimeoutRealtime},
	{"LinkTimeoutUpdate", "IORING_LINK_TIMEOUT_UPDATE", LinkTimeoutUpdate},
	{"TimeoutETimeSuccess", "IORING_TIMEOUT_ETIME_SUCCESS", TimeoutETimeSuccess},

	// io_uring_sqe.cancel_flags.
	{"AsyncCancelAll", "IORING_ASYNC_CANCEL_ALL", AsyncCancelAll},
	{"AsyncCancelFD", "IORING_ASYNC_CANCEL_FD", AsyncCancelFD},
	{"AsyncCancelAny", "IORING_ASYNC_CANCEL_ANY", AsyncCancelAny},
	{"AsyncCancelFDFixed", "IORING_ASYNC_CANCEL_FD_FIXED", AsyncCancelFDFixed},
	{"AsyncCancelUserdata", "IORING_ASYNC_CANCEL_USERDATA", AsyncCancelUserdata},
	{"AsyncCancelOp", "IORING_ASYNC_CANCEL_OP", AsyncCancelOp},

	// io_uring_sqe.ioprio of ACCEPT.
	{"AcceptMultishot", "IORING_ACCEPT_MULTISHOT", AcceptMultishot},

	// io_uring_cqe.flags.
	{"CQEFBuffer", "IORING_CQE_F_BUFFER", CQEFBuffer},
	{"CQEFMore", "IORING_CQE_F_MORE", CQEFMore},
	{"CQEFSockNonempty", "IORING_CQE_F_SOCK_NONEMPTY", CQEFSockNonempty},
	{"CQEFNotif", "IORING_CQE_F_NOTIF", CQEFNotif},

	// mmap offsets.
	{"OffSQRing", "IORING_OFF_SQ_RING", OffSQRing},
	{"OffCQRing", "IORING_OFF_CQ_RING", OffCQRing},
	{"OffSQEs", "IORING_OFF_SQES", OffSQEs},

	// SQ and CQ ring flags.
	{"SQNeedWakeup", "IORING_SQ_NEED_WAKEUP", SQNeedWakeup},
	{"SQCQOverflow", "IORING_SQ_CQ_OVERFLOW", SQCQOverflow},
	{"SQTaskrun", "IORING_SQ_TASKRUN", SQTaskrun},
	{"CQEventfdDisabled", "IORING_CQ_EVENTFD_DISABLED", CQEventfdDisabled},

	// io_uring_enter(2) flags.
	{"EnterGetevents", "IORING_ENTER_GETEVENTS", EnterGetevents},
	{"EnterSQWakeup", "IORING_ENTER_SQ_WAKEUP", EnterSQWakeup},
	{"EnterSQWait", "IORING_ENTER_SQ_WAIT", EnterSQWait},
	{"EnterExtArg", "IORING_ENTER_EXT_ARG", EnterExtArg},
	{"EnterRegisteredRing", "IORING_ENTER_REGISTERED_RING", EnterRegisteredRing},

	// io_uring_params.features.
	{"FeatSingleMmap", "IORING_FEAT_SINGLE_MMAP", FeatSingleMmap},
	{"FeatNodrop", "IORING_FEAT_NODROP", FeatNodrop},
	{"FeatSubmitStable", "IORING_FEAT_SUBMIT_STABLE", FeatSubmitStable},
	{"FeatRWCurPos", "IORING_FEAT_RW_CUR_POS", FeatRWCurPos},
	{"FeatCurPersonality", "IORING_FEAT_CUR_PERSONALITY", FeatCurPersonality},
	{"FeatFastPoll", "IORING_FEAT_FAST_POLL", FeatFastPoll},
	{"FeatPoll32Bits", "IORING_FEAT_POLL_32BITS", FeatPoll32Bits},
	{"FeatSQPollNonfixed", "IORING_FEAT_SQPOLL_NONFIXED", FeatSQPollNonfixed},
	{"FeatExtArg", "IORING_FEAT_EXT_ARG", FeatExtArg},
	{"FeatNativeWorkers", "IORING_FEAT_NATIVE_WORKERS", FeatNativeWorkers},
	{"FeatRsrcTags", "IORING_FEAT_RSRC_TAGS", FeatRsrcTags},
	{"FeatCQESkip", "IORING_FEAT_CQE_SKIP", FeatCQESkip},
	{"FeatLinkedFile", "IORING_FEAT_LINKED_FILE", FeatLinkedFile},

	// io_uring_register(2) opcodes.
	{"RegisterBuffers", "IORING_REGISTER_BUFFERS", RegisterBuffers},
	{"UnregisterBuffers", "IORING_UNREGISTER_BUFFERS", UnregisterBuffers},
	{"RegisterFiles", "IORING_REGISTER_FILES", RegisterFiles},
	{"UnregisterFiles", "IORING_UNREGISTER_FILES", UnregisterFiles},
	{"RegisterEventfd", "IORING_REGISTER_EVENTFD", RegisterEventfd},
	{"UnregisterEventfd", "IORING_UNREGISTER_EVENTFD", UnregisterEventfd},
	{"RegisterFilesUpdate", "IORING_REGISTER_FILES_UPDATE", RegisterFilesUpdate},
	{"RegisterEventfdAsync", "IORING_REGISTER_EVENTFD_ASYNC", RegisterEventfdAsync},
	{"RegisterProbe", "IORING_REGISTER_PROBE", RegisterProbe},
	{"RegisterPersonality", "IORING_REGISTER_PERSONALITY", RegisterPersonality},
	{"UnregisterPersonality", "IORING_UNREGISTER_PERSONALITY", UnregisterPersonality},
	{"RegisterRestrictions", "IORING_REGISTER_RESTRICTIONS", RegisterRestrictions},
	{"RegisterEnableRings", "IORING_REGISTER_ENABLE_RINGS", RegisterEnableRings},
	{"RegisterFiles2", "IORING_REGISTER_FILES2", RegisterFiles2},
	{"RegisterFilesUpdate2", "IORING_REGISTER_FILES_UPDATE2", RegisterFilesUpdate2},
	{"RegisterBuffers2", "IORING_REGISTER_BUFFERS2", RegisterBuffers2},
	{"RegisterBuffersUpdate", "IORING_REGISTER_BUFFERS_UPDATE", RegisterBuffersUpdate},
	{"RegisterIOWQAff", "IORING_REGISTER_IOWQ_AFF", RegisterIOWQAff},
	{"UnregisterIOWQAff", "IORING_UNREGISTER_IOWQ_AFF", UnregisterIOWQAff},
	{"RegisterIOWQMaxWorkers", "IORING_REGISTER_IOWQ_MAX_WORKERS", RegisterIOWQMaxWorkers},
	{"RegisterRingFDs", "IORING_REGISTER_RING_FDS", RegisterRingFDs},
	{"UnregisterRingFDs", "IORING_UNREGISTER_RING_FDS", UnregisterRingFDs},
	{"RegisterPbufRing", "IORING_REGISTER_PBUF_RING", RegisterPbufRing},
	{"UnregisterPbufRing", "IORING_UNREGISTER_PBUF_RING", UnregisterPbufRing},
	{"RegisterSyncCancel", "IORING_REGISTER_SYNC_CANCEL", RegisterSyncCancel},
	{"RegisterFileAllocRange", "IORING_REGISTER_FILE_ALLOC_RANGE", RegisterFileAllocRange},
	{"RsrcRegisterSparse", "IORING_RSRC_REGISTER_SPARSE", RsrcRegisterSparse},
}

// abiNewerConsts are constants of kernels newer than some headers in use
// (Debian 12's linux-libc-dev is 6.1): each is compared when the
// installed <linux/io_uring.h> has it, and reported as skipped when not.
var abiNewerConsts = []abiConst{
	{"OpReadMultishot", "IORING_OP_READ_MULTISHOT", int64(OpReadMultishot)},
	{"OpWaitid", "IORING_OP_WAITID", int64(OpWaitid)},
	{"OpFutexWait", "IORING_OP_FUTEX_WAIT", int64(OpFutexWait)},
	{"OpFutexWake", "IORING_OP_FUTEX_WAKE", int64(OpFutexWake)},
	{"OpFutexWaitv", "IORING_OP_FUTEX_WAITV", int64(OpFutexWaitv)},
	{"OpFixedFdInstall", "IORING_OP_FIXED_FD_INSTALL", int64(OpFixedFdInstall)},
	{"OpFtruncate", "IORING_OP_FTRUNCATE", int64(OpFtruncate)},
}

// abiNoCounterpart lists exported constants of abi_linux.go that have no
// counterpart in <linux/io_uring.h> (name -> reason); they are not compared.
// Every constant abi_linux.go defines today exists in the header, so this is
// empty; the coverage check fails for a constant in neither place.
var abiNoCounterpart = map[string]string{}

// abiStruct maps one of our structs to a C struct.
type abiStruct struct {
	goType reflect.Type
	size   uintptr // unsafe.Sizeof of the Go type
	cTag   string  // the C struct tag, without "struct"
}

var abiStructs = []abiStruct{
	{reflect.TypeFor[SQE](), unsafe.Sizeof(SQE{}), "io_uring_sqe"},
	{reflect.TypeFor[CQE](), unsafe.Sizeof(CQE{}), "io_uring_cqe"},
	{reflect.TypeFor[SQRingOffsets](), unsafe.Sizeof(SQRingOffsets{}), "io_sqring_offsets"},
	{reflect.TypeFor[CQRingOffsets](), unsafe.Sizeof(CQRingOffsets{}), "io_cqring_offsets"},
	{reflect.TypeFor[Params](), unsafe.Sizeof(Params{}), "io_uring_params"},
	{reflect.TypeFor[ProbeOp](), unsafe.Sizeof(ProbeOp{}), "io_uring_probe_op"},
	// struct io_uring_probe ends in a flexible array, ours in [256]ProbeOp:
	// compare the header, the part before ops.
	{reflect.TypeFor[Probe](), unsafe.Offsetof(Probe{}.Ops), "io_uring_probe"},
	{reflect.TypeFor[GetEventsArg](), unsafe.Sizeof(GetEventsArg{}), "io_uring_getevents_arg"},
	{reflect.TypeFor[Timespec](), unsafe.Sizeof(Timespec{}), "__kernel_timespec"},
	{reflect.TypeFor[RsrcRegister](), unsafe.Sizeof(RsrcRegister{}), "io_uring_rsrc_register"},
	{reflect.TypeFor[RsrcUpdate2](), unsafe.Sizeof(RsrcUpdate2{}), "io_uring_rsrc_update2"},
}

// abiField maps a field of one of our structs to a C struct member. A Go field
// standing for a C union has one row per union member we rely on.
type abiField struct {
	goType  reflect.Type
	goField string
	off     uintptr // unsafe.Offsetof
	size    uintptr // unsafe.Sizeof
	cTag    string
	cField  string
	opts    fieldOpt
}

type fieldOpt uint8

const (
	// noSize: do not compare member sizes (C flexible array member).
	noSize fieldOpt = 1 << iota
	// noSign: do not compare signedness (C array, or a union member whose
	// signedness differs from the Go field's or between header versions).
	noSign
)

// Values whose fields unsafe.Offsetof and unsafe.Sizeof look at.
var (
	tSQE     SQE
	tCQE     CQE
	tSQOff   SQRingOffsets
	tCQOff   CQRingOffsets
	tParams  Params
	tProbeOp ProbeOp
	tProbe   Probe
	tGEArg   GetEventsArg
	tTS      Timespec
	tRsrcReg RsrcRegister
	tRsrcUpd RsrcUpdate2
)

var (
	rSQE     = reflect.TypeFor[SQE]()
	rCQE     = reflect.TypeFor[CQE]()
	rSQOff   = reflect.TypeFor[SQRingOffsets]()
	rCQOff   = reflect.TypeFor[CQRingOffsets]()
	rParams  = reflect.TypeFor[Params]()
	rProbeOp = reflect.TypeFor[ProbeOp]()
	rProbe   = reflect.TypeFor[Probe]()
	rGEArg   = reflect.TypeFor[GetEventsArg]()
	rTS      = reflect.TypeFor[Timespec]()
	rRsrcReg = reflect.TypeFor[RsrcRegister]()
	rRsrcUpd = reflect.TypeFor[RsrcUpdate2]()
)

var abiFields = []abiField{
	{rSQE, "Opcode", unsafe.Offsetof(tSQE.Opcode), unsafe.Sizeof(tSQE.Opcode), "io_uring_sqe", "opcode", 0},
	{rSQE, "Flags", unsafe.Offsetof(tSQE.Flags), unsafe.Sizeof(tSQE.Flags), "io_uring_sqe", "flags", 0},
	{rSQE, "Ioprio", unsafe.Offsetof(tSQE.Ioprio), unsafe.Sizeof(tSQE.Ioprio), "io_uring_sqe", "ioprio", 0},
	{rSQE, "Fd", unsafe.Offsetof(tSQE.Fd), unsafe.Sizeof(tSQE.Fd), "io_uring_sqe", "fd", 0},
	{rSQE, "Off", unsafe.Offsetof(tSQE.Off), unsafe.Sizeof(tSQE.Off), "io_uring_sqe", "off", 0},
	{rSQE, "Off", unsafe.Offsetof(tSQE.Off), unsafe.Sizeof(tSQE.Off), "io_uring_sqe", "addr2", 0},
	{rSQE, "Addr", unsafe.Offsetof(tSQE.Addr), unsafe.Sizeof(tSQE.Addr), "io_uring_sqe", "addr", 0},
	{rSQE, "Addr", unsafe.Offsetof(tSQE.Addr), unsafe.Sizeof(tSQE.Addr), "io_uring_sqe", "splice_off_in", 0},
	{rSQE, "Len", unsafe.Offsetof(tSQE.Len), unsafe.Sizeof(tSQE.Len), "io_uring_sqe", "len", 0},
	// rw_flags is __kernel_rwf_t (int) in some header versions.
	{rSQE, "OpFlags", unsafe.Offsetof(tSQE.OpFlags), unsafe.Sizeof(tSQE.OpFlags), "io_uring_sqe", "rw_flags", noSign},
	{rSQE, "OpFlags", unsafe.Offsetof(tSQE.OpFlags), unsafe.Sizeof(tSQE.OpFlags), "io_uring_sqe", "fsync_flags", 0},
	{rSQE, "OpFlags", unsafe.Offsetof(tSQE.OpFlags), unsafe.Sizeof(tSQE.OpFlags), "io_uring_sqe", "timeout_flags", 0},
	{rSQE, "OpFlags", unsafe.Offsetof(tSQE.OpFlags), unsafe.Sizeof(tSQE.OpFlags), "io_uring_sqe", "cancel_flags", 0},
	{rSQE, "OpFlags", unsafe.Offsetof(tSQE.OpFlags), unsafe.Sizeof(tSQE.OpFlags), "io_uring_sqe", "open_flags", 0},
	{rSQE, "OpFlags", unsafe.Offsetof(tSQE.OpFlags), unsafe.Sizeof(tSQE.OpFlags), "io_uring_sqe", "statx_flags", 0},
	{rSQE, "OpFlags", unsafe.Offsetof(tSQE.OpFlags), unsafe.Sizeof(tSQE.OpFlags), "io_uring_sqe", "fadvise_advice", 0},
	{rSQE, "OpFlags", unsafe.Offsetof(tSQE.OpFlags), unsafe.Sizeof(tSQE.OpFlags), "io_uring_sqe", "rename_flags", 0},
	{rSQE, "OpFlags", unsafe.Offsetof(tSQE.OpFlags), unsafe.Sizeof(tSQE.OpFlags), "io_uring_sqe", "unlink_flags", 0},
	{rSQE, "OpFlags", unsafe.Offsetof(tSQE.OpFlags), unsafe.Sizeof(tSQE.OpFlags), "io_uring_sqe", "hardlink_flags", 0},
	{rSQE, "UserData", unsafe.Offsetof(tSQE.UserData), unsafe.Sizeof(tSQE.UserData), "io_uring_sqe", "user_data", 0},
	{rSQE, "BufIndex", unsafe.Offsetof(tSQE.BufIndex), unsafe.Sizeof(tSQE.BufIndex), "io_uring_sqe", "buf_index", 0},
	{rSQE, "BufIndex", unsafe.Offsetof(tSQE.BufIndex), unsafe.Sizeof(tSQE.BufIndex), "io_uring_sqe", "buf_group", 0},
	{rSQE, "Personality", unsafe.Offsetof(tSQE.Personality), unsafe.Sizeof(tSQE.Personality), "io_uring_sqe", "personality", 0},
	{rSQE, "SpliceFdIn", unsafe.Offsetof(tSQE.SpliceFdIn), unsafe.Sizeof(tSQE.SpliceFdIn), "io_uring_sqe", "splice_fd_in", 0},
	// file_index is __u32, our SpliceFdIn int32.
	{rSQE, "SpliceFdIn", unsafe.Offsetof(tSQE.SpliceFdIn), unsafe.Sizeof(tSQE.SpliceFdIn), "io_uring_sqe", "file_index", noSign},
	{rSQE, "Addr3", unsafe.Offsetof(tSQE.Addr3), unsafe.Sizeof(tSQE.Addr3), "io_uring_sqe", "addr3", 0},
	// __pad2 is __u64[1].
	{rSQE, "Pad2", unsafe.Offsetof(tSQE.Pad2), unsafe.Sizeof(tSQE.Pad2), "io_uring_sqe", "__pad2", noSign},

	// big_cqe[] (CQE32 rings only) has no Go field: it starts at sizeof.
	{rCQE, "UserData", unsafe.Offsetof(tCQE.UserData), unsafe.Sizeof(tCQE.UserData), "io_uring_cqe", "user_data", 0},
	{rCQE, "Res", unsafe.Offsetof(tCQE.Res), unsafe.Sizeof(tCQE.Res), "io_uring_cqe", "res", 0},
	{rCQE, "Flags", unsafe.Offsetof(tCQE.Flags), unsafe.Sizeof(tCQE.Flags), "io_uring_cqe", "flags", 0},

	{rSQOff, "Head", unsafe.Offsetof(tSQOff.Head), unsafe.Sizeof(tSQOff.Head), "io_sqring_offsets", "head", 0},
	{rSQOff, "Tail", unsafe.Offsetof(tSQOff.Tail), unsafe.Sizeof(tSQOff.Tail), "io_sqring_offsets", "tail", 0},
	{rSQOff, "RingMask", unsafe.Offsetof(tSQOff.RingMask), unsafe.Sizeof(tSQOff.RingMask), "io_sqring_offsets", "ring_mask", 0},
	{rSQOff, "RingEntries", unsafe.Offsetof(tSQOff.RingEntries), unsafe.Sizeof(tSQOff.RingEntries), "io_sqring_offsets", "ring_entries", 0},
	{rSQOff, "Flags", unsafe.Offsetof(tSQOff.Flags), unsafe.Sizeof(tSQOff.Flags), "io_sqring_offsets", "flags", 0},
	{rSQOff, "Dropped", unsafe.Offsetof(tSQOff.Dropped), unsafe.Sizeof(tSQOff.Dropped), "io_sqring_offsets", "dropped", 0},
	{rSQOff, "Array", unsafe.Offsetof(tSQOff.Array), unsafe.Sizeof(tSQOff.Array), "io_sqring_offsets", "array", 0},
	{rSQOff, "Resv1", unsafe.Offsetof(tSQOff.Resv1), unsafe.Sizeof(tSQOff.Resv1), "io_sqring_offsets", "resv1", 0},
	{rSQOff, "UserAddr", unsafe.Offsetof(tSQOff.UserAddr), unsafe.Sizeof(tSQOff.UserAddr), "io_sqring_offsets", "user_addr", 0},

	{rCQOff, "Head", unsafe.Offsetof(tCQOff.Head), unsafe.Sizeof(tCQOff.Head), "io_cqring_offsets", "head", 0},
	{rCQOff, "Tail", unsafe.Offsetof(tCQOff.Tail), unsafe.Sizeof(tCQOff.Tail), "io_cqring_offsets", "tail", 0},
	{rCQOff, "RingMask", unsafe.Offsetof(tCQOff.RingMask), unsafe.Sizeof(tCQOff.RingMask), "io_cqring_offsets", "ring_mask", 0},
	{rCQOff, "RingEntries", unsafe.Offsetof(tCQOff.RingEntries), unsafe.Sizeof(tCQOff.RingEntries), "io_cqring_offsets", "ring_entries", 0},
	{rCQOff, "Overflow", unsafe.Offsetof(tCQOff.Overflow), unsafe.Sizeof(tCQOff.Overflow), "io_cqring_offsets", "overflow", 0},
	{rCQOff, "Cqes", unsafe.Offsetof(tCQOff.Cqes), unsafe.Sizeof(tCQOff.Cqes), "io_cqring_offsets", "cqes", 0},
	{rCQOff, "Flags", unsafe.Offsetof(tCQOff.Flags), unsafe.Sizeof(tCQOff.Flags), "io_cqring_offsets", "flags", 0},
	{rCQOff, "Resv1", unsafe.Offsetof(tCQOff.Resv1), unsafe.Sizeof(tCQOff.Resv1), "io_cqring_offsets", "resv1", 0},
	{rCQOff, "UserAddr", unsafe.Offsetof(tCQOff.UserAddr), unsafe.Sizeof(tCQOff.UserAddr), "io_cqring_offsets", "user_addr", 0},

	{rParams, "SQEntries", unsafe.Offsetof(tParams.SQEntries), unsafe.Sizeof(tParams.SQEntries), "io_uring_params", "sq_entries", 0},
	{rParams, "CQEntries", unsafe.Offsetof(tParams.CQEntries), unsafe.Sizeof(tParams.CQEntries), "io_uring_params", "cq_entries", 0},
	{rParams, "Flags", unsafe.Offsetof(tParams.Flags), unsafe.Sizeof(tParams.Flags), "io_uring_params", "flags", 0},
	{rParams, "SQThreadCPU", unsafe.Offsetof(tParams.SQThreadCPU), unsafe.Sizeof(tParams.SQThreadCPU), "io_uring_params", "sq_thread_cpu", 0},
	{rParams, "SQThreadIdle", unsafe.Offsetof(tParams.SQThreadIdle), unsafe.Sizeof(tParams.SQThreadIdle), "io_uring_params", "sq_thread_idle", 0},
	{rParams, "Features", unsafe.Offsetof(tParams.Features), unsafe.Sizeof(tParams.Features), "io_uring_params", "features", 0},
	{rParams, "WQFd", unsafe.Offsetof(tParams.WQFd), unsafe.Sizeof(tParams.WQFd), "io_uring_params", "wq_fd", 0},
	{rParams, "Resv", unsafe.Offsetof(tParams.Resv), unsafe.Sizeof(tParams.Resv), "io_uring_params", "resv", 0},
	{rParams, "SQOff", unsafe.Offsetof(tParams.SQOff), unsafe.Sizeof(tParams.SQOff), "io_uring_params", "sq_off", 0},
	{rParams, "CQOff", unsafe.Offsetof(tParams.CQOff), unsafe.Sizeof(tParams.CQOff), "io_uring_params", "cq_off", 0},

	{rProbeOp, "Op", unsafe.Offsetof(tProbeOp.Op), unsafe.Sizeof(tProbeOp.Op), "io_uring_probe_op", "op", 0},
	{rProbeOp, "Resv", unsafe.Offsetof(tProbeOp.Resv), unsafe.Sizeof(tProbeOp.Resv), "io_uring_probe_op", "resv", 0},
	{rProbeOp, "Flags", unsafe.Offsetof(tProbeOp.Flags), unsafe.Sizeof(tProbeOp.Flags), "io_uring_probe_op", "flags", 0},
	{rProbeOp, "Resv2", unsafe.Offsetof(tProbeOp.Resv2), unsafe.Sizeof(tProbeOp.Resv2), "io_uring_probe_op", "resv2", 0},

	{rProbe, "LastOp", unsafe.Offsetof(tProbe.LastOp), unsafe.Sizeof(tProbe.LastOp), "io_uring_probe", "last_op", 0},
	{rProbe, "OpsLen", unsafe.Offsetof(tProbe.OpsLen), unsafe.Sizeof(tProbe.OpsLen), "io_uring_probe", "ops_len", 0},
	{rProbe, "Resv", unsafe.Offsetof(tProbe.Resv), unsafe.Sizeof(tProbe.Resv), "io_uring_probe", "resv", 0},
	{rProbe, "Resv2", unsafe.Offsetof(tProbe.Resv2), unsafe.Sizeof(tProbe.Resv2), "io_uring_probe", "resv2", 0},
	// ops[] is a flexible array member: no sizeof in C.
	{rProbe, "Ops", unsafe.Offsetof(tProbe.Ops), unsafe.Sizeof(tProbe.Ops), "io_uring_probe", "ops", noSize},

	{rGEArg, "Sigmask", unsafe.Offsetof(tGEArg.Sigmask), unsafe.Sizeof(tGEArg.Sigmask), "io_uring_getevents_arg", "sigmask", 0},
	{rGEArg, "SigmaskSz", unsafe.Offsetof(tGEArg.SigmaskSz), unsafe.Sizeof(tGEArg.SigmaskSz), "io_uring_getevents_arg", "sigmask_sz", 0},
	{rGEArg, "Pad", unsafe.Offsetof(tGEArg.Pad), unsafe.Sizeof(tGEArg.Pad), "io_uring_getevents_arg", "pad", 0},
	{rGEArg, "Ts", unsafe.Offsetof(tGEArg.Ts), unsafe.Sizeof(tGEArg.Ts), "io_uring_getevents_arg", "ts", 0},

	{rTS, "Sec", unsafe.Offsetof(tTS.Sec), unsafe.Sizeof(tTS.Sec), "__kernel_timespec", "tv_sec", 0},
	{rTS, "Nsec", unsafe.Offsetof(tTS.Nsec), unsafe.Sizeof(tTS.Nsec), "__kernel_timespec", "tv_nsec", 0},

	{rRsrcReg, "Nr", unsafe.Offsetof(tRsrcReg.Nr), unsafe.Sizeof(tRsrcReg.Nr), "io_uring_rsrc_register", "nr", 0},
	{rRsrcReg, "Flags", unsafe.Offsetof(tRsrcReg.Flags), unsafe.Sizeof(tRsrcReg.Flags), "io_uring_rsrc_register", "flags", 0},
	{rRsrcReg, "Resv2", unsafe.Offsetof(tRsrcReg.Resv2), unsafe.Sizeof(tRsrcReg.Resv2), "io_uring_rsrc_register", "resv2", 0},
	{rRsrcReg, "Data", unsafe.Offsetof(tRsrcReg.Data), unsafe.Sizeof(tRsrcReg.Data), "io_uring_rsrc_register", "data", 0},
	{rRsrcReg, "Tags", unsafe.Offsetof(tRsrcReg.Tags), unsafe.Sizeof(tRsrcReg.Tags), "io_uring_rsrc_register", "tags", 0},

	{rRsrcUpd, "Offset", unsafe.Offsetof(tRsrcUpd.Offset), unsafe.Sizeof(tRsrcUpd.Offset), "io_uring_rsrc_update2", "offset", 0},
	{rRsrcUpd, "Resv", unsafe.Offsetof(tRsrcUpd.Resv), unsafe.Sizeof(tRsrcUpd.Resv), "io_uring_rsrc_update2", "resv", 0},
	{rRsrcUpd, "Data", unsafe.Offsetof(tRsrcUpd.Data), unsafe.Sizeof(tRsrcUpd.Data), "io_uring_rsrc_update2", "data", 0},
	{rRsrcUpd, "Tags", unsafe.Offsetof(tRsrcUpd.Tags), unsafe.Sizeof(tRsrcUpd.Tags), "io_uring_rsrc_update2", "tags", 0},
	{rRsrcUpd, "Nr", unsafe.Offsetof(tRsrcUpd.Nr), unsafe.Sizeof(tRsrcUpd.Nr), "io_uring_rsrc_update2", "nr", 0},
	{rRsrcUpd, "Resv2", unsafe.Offsetof(tRsrcUpd.Resv2), unsafe.Sizeof(tRsrcUpd.Resv2), "io_uring_rsrc_update2", "resv2", 0},
}

// Keys of the lines the C program prints ("KEY VALUE").
func constKey(c abiConst) string   { return c.cName }
func sizeKey(s abiStruct) string   { return "sizeof:" + s.cTag }
func offKey(f abiField) string     { return "offsetof:" + f.cTag + "." + f.cField }
func memSizeKey(f abiField) string { return "sizeof:" + f.cTag + "." + f.cField }
func signKey(f abiField) string    { return "signed:" + f.cTag + "." + f.cField }

// checkSign reports whether the signedness of f is compared: only for
// integer fields, since the C check casts -1 to the member's type.
func checkSign(f abiField) bool {
	if f.opts&noSign != 0 {
		return false
	}
	sf, ok := f.goType.FieldByName(f.goField)
	if !ok {
		return false
	}
	switch sf.Type.Kind() {
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

func isSigned(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return true
	}
	return false
}

const cPrelude = `#include <linux/io_uring.h>
#include <stddef.h>
#include <stdio.h>

/* Linux 6.5 renamed io_{sq,cq}ring_offsets.resv2 to user_addr, in the change
   that added IORING_SETUP_NO_MMAP. */
#ifndef IORING_SETUP_NO_MMAP
#define user_addr resv2
#endif

#define MEMBER(tag, m) (((struct tag *)0)->m)
#define SIGNED(tag, m) ((__typeof__(MEMBER(tag, m)))-1 < 0)

int main(void)
{
`

// cProgram returns the C source printing one "KEY VALUE" line per check.
func cProgram(consts []abiConst) string {
	var b strings.Builder
	b.WriteString(cPrelude)
	for _, c := range consts {
		fmt.Fprintf(&b, "\tprintf(\"%s %%lld\\n\", (long long)(%s));\n", constKey(c), c.cName)
	}
	for _, s := range abiStructs {
		fmt.Fprintf(&b, "\tprintf(\"%s %%zu\\n\", sizeof(struct %s));\n", sizeKey(s), s.cTag)
	}
	for _, f := range abiFields {
		fmt.Fprintf(&b, "\tprintf(\"%s %%zu\\n\", offsetof(struct %s, %s));\n", offKey(f), f.cTag, f.cField)
		if f.opts&noSize == 0 {
			fmt.Fprintf(&b, "\tprintf(\"%s %%zu\\n\", sizeof(MEMBER(%s, %s)));\n", memSizeKey(f), f.cTag, f.cField)
		}
		if checkSign(f) {
			fmt.Fprintf(&b, "\tprintf(\"%s %%d\\n\", SIGNED(%s, %s));\n", signKey(f), f.cTag, f.cField)
		}
	}
	b.WriteString("\treturn 0;\n}\n")
	return b.String()
}

// headerHas reports whether the installed <linux/io_uring.h> defines name
// (a macro or an enumerator).
func headerHas(t *testing.T, gcc, dir, name string) bool {
	src := filepath.Join(dir, "has_"+name+".c")
	prog := "#include <linux/io_uring.h>\nlong long x = (long long)(" + name + ");\n"
	if err := os.WriteFile(src, []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	return exec.Command(gcc, "-fsyntax-only", src).Run() == nil
}

// runCProgram compiles and runs the C program and returns its output by
// key, and the constants it compared (abiConsts and the abiNewerConsts
// this header has).
func runCProgram(t *testing.T) (map[string]int64, []abiConst) {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Fatalf("gcc not found (%v): this test compiles a C program against <linux/io_uring.h>; install gcc and linux-libc-dev, or run without -tags cgoabi", err)
	}
	dir := t.TempDir()

	// First make sure the header is there, to tell that apart from a bad C
	// name in our tables.
	hdr := filepath.Join(dir, "header.c")
	if err := os.WriteFile(hdr, []byte("#include <linux/io_uring.h>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(gcc, "-fsyntax-only", hdr).CombinedOutput(); err != nil {
		t.Fatalf("gcc cannot use <linux/io_uring.h> (%v); install linux-libc-dev:\n%s", err, out)
	}

	consts := slices.Clone(abiConsts)
	for _, c := range abiNewerConsts {
		if headerHas(t, gcc, dir, c.cName) {
			consts = append(consts, c)
		} else {
			t.Logf("%s is not in this <linux/io_uring.h> (a newer kernel's); %s = %d not compared", c.cName, c.goName, c.value)
		}
	}

	src := filepath.Join(dir, "abi.c")
	bin := filepath.Join(dir, "abi")
	if err := os.WriteFile(src, []byte(cProgram(consts)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(gcc, "-std=gnu11", "-O0", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("compiling the generated C program failed (%v): a C name in the tables of abi_cgo_test.go is misspelt or missing from this <linux/io_uring.h>:\n%s", err, out)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("running the generated C program: %v\n%s", err, stderr.Bytes())
	}

	got := make(map[string]int64)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 {
			t.Fatalf("C program printed %q, want \"NAME VALUE\"", sc.Text())
		}
		v, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			t.Fatalf("C program printed %q: %v", sc.Text(), err)
		}
		if _, dup := got[fields[0]]; dup {
			t.Fatalf("C program printed %s twice: duplicate row in the tables", fields[0])
		}
		got[fields[0]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return got, consts
}

// sourceDecls type-checks abi_linux.go on its own and returns its exported
// constants with their values and the names of its exported struct types.
func sourceDecls(t *testing.T) (consts map[string]constant.Value, structs []string) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "abi_linux.go", nil, 0)
	if err != nil {
		t.Fatalf("parsing abi_linux.go: %v", err)
	}
	// References to the rest of the package are errors here; they do not
	// keep the constants from being evaluated, so ignore them.
	conf := types.Config{Importer: importer.Default(), Error: func(error) {}}
	pkg, _ := conf.Check("uring", fset, []*ast.File{f}, nil)
	consts = make(map[string]constant.Value)
	for _, name := range pkg.Scope().Names() {
		if !token.IsExported(name) {
			continue
		}
		switch obj := pkg.Scope().Lookup(name).(type) {
		case *types.Const:
			consts[name] = obj.Val()
		case *types.TypeName:
			if _, ok := obj.Type().Underlying().(*types.Struct); ok {
				structs = append(structs, name)
			}
		}
	}
	return consts, structs
}

func TestABI(t *testing.T) {
	got, consts := runCProgram(t)

	// Every line the C program printed must be one we asked for, and the
	// other way round.
	want := make(map[string]bool)
	for _, c := range consts {
		want[constKey(c)] = true
	}
	for _, s := range abiStructs {
		want[sizeKey(s)] = true
	}
	for _, f := range abiFields {
		want[offKey(f)] = true
		if f.opts&noSize == 0 {
			want[memSizeKey(f)] = true
		}
		if checkSign(f) {
			want[signKey(f)] = true
		}
	}
	for _, k := range sortedKeys(got) {
		if !want[k] {
			t.Errorf("C program printed %s, which no table row asks for", k)
		}
	}
	for _, k := range sortedKeys(want) {
		if _, ok := got[k]; !ok {
			t.Errorf("C program did not print %s", k)
		}
	}

	t.Run("Constants", func(t *testing.T) {
		for _, c := range consts {
			v, ok := got[constKey(c)]
			if !ok {
				continue // reported above
			}
			if v != c.value {
				t.Errorf("%s = %d (%#x), but %s = %d (%#x)", c.goName, c.value, c.value, c.cName, v, v)
			}
		}
	})

	t.Run("OpName", func(t *testing.T) {
		for _, c := range append(slices.Clone(abiConsts), abiNewerConsts...) {
			if !strings.HasPrefix(c.cName, "IORING_OP_") {
				continue
			}
			if name := OpName(uint8(c.value)); name != c.cName {
				t.Errorf("OpName(%s) = %q, want %q", c.goName, name, c.cName)
			}
		}
	})

	t.Run("Structs", func(t *testing.T) {
		for _, s := range abiStructs {
			if v, ok := got[sizeKey(s)]; ok && uintptr(v) != s.size {
				what := "unsafe.Sizeof"
				if s.goType == rProbe {
					what = "unsafe.Offsetof(Probe{}.Ops)"
				}
				t.Errorf("%s(%s) = %d, but sizeof(struct %s) = %d", what, s.goType.Name(), s.size, s.cTag, v)
			}
		}
	})

	t.Run("Fields", func(t *testing.T) {
		for _, f := range abiFields {
			name := f.goType.Name() + "." + f.goField
			if v, ok := got[offKey(f)]; ok && uintptr(v) != f.off {
				t.Errorf("unsafe.Offsetof(%s) = %d, but offsetof(struct %s, %s) = %d", name, f.off, f.cTag, f.cField, v)
			}
			if v, ok := got[memSizeKey(f)]; ok && uintptr(v) != f.size {
				t.Errorf("unsafe.Sizeof(%s) = %d, but sizeof(struct %s .%s) = %d", name, f.size, f.cTag, f.cField, v)
			}
			if v, ok := got[signKey(f)]; ok {
				sf, _ := f.goType.FieldByName(f.goField)
				if gs, cs := isSigned(sf.Type.Kind()), v != 0; gs != cs {
					t.Errorf("%s is %s but struct %s .%s is signed=%v", name, sf.Type, f.cTag, f.cField, cs)
				}
			}
		}
	})

	// The tables must cover abi_linux.go, and their Go names must be right.
	t.Run("Coverage", func(t *testing.T) {
		srcConsts, srcStructs := sourceDecls(t)

		seen := make(map[string]bool)
		for _, c := range append(slices.Clone(abiConsts), abiNewerConsts...) {
			if seen[c.goName] {
				t.Errorf("constant %s has two table rows", c.goName)
			}
			seen[c.goName] = true
			sv, ok := srcConsts[c.goName]
			if !ok {
				t.Errorf("table row %s: no such exported constant in abi_linux.go", c.goName)
				continue
			}
			if iv, exact := constant.Int64Val(constant.ToInt(sv)); !exact || iv != c.value {
				t.Errorf("table row %s has the value of another constant: %d, abi_linux.go says %s", c.goName, c.value, sv)
			}
		}
		for _, name := range sortedKeys(srcConsts) {
			_, skip := abiNoCounterpart[name]
			switch {
			case seen[name] && skip:
				t.Errorf("constant %s is both compared and listed in abiNoCounterpart", name)
			case !seen[name] && !skip:
				t.Errorf("constant %s of abi_linux.go is not compared with <linux/io_uring.h>: add it to abiConsts (or to abiNoCounterpart if the header has no such name)", name)
			}
		}

		structRows := make(map[string]bool)
		for _, s := range abiStructs {
			structRows[s.goType.Name()] = true
			if s.goType != rProbe && s.size != s.goType.Size() {
				t.Errorf("table row %s (C %s) takes unsafe.Sizeof of another type", s.goType.Name(), s.cTag)
			}
		}
		for _, name := range srcStructs {
			if !structRows[name] {
				t.Errorf("struct %s of abi_linux.go is not compared with <linux/io_uring.h>: add it to abiStructs and abiFields", name)
			}
		}

		covered := make(map[string]bool)
		for _, f := range abiFields {
			name := f.goType.Name() + "." + f.goField
			sf, ok := f.goType.FieldByName(f.goField)
			if !ok {
				t.Errorf("table row %s: no such field", name)
				continue
			}
			if sf.Offset != f.off || sf.Type.Size() != f.size {
				t.Errorf("table row %s (C %s) takes unsafe.Offsetof/Sizeof of another field", name, f.cField)
			}
			covered[name] = true
		}
		for _, s := range abiStructs {
			for i := 0; i < s.goType.NumField(); i++ {
				name := s.goType.Name() + "." + s.goType.Field(i).Name
				if !covered[name] {
					t.Errorf("field %s is not compared with struct %s: add it to abiFields", name, s.cTag)
				}
			}
		}
	})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
