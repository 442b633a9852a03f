package uring

// Setup flags (io_uring_params.flags).
const (
	SetupIOPoll       = 1 << 0
	SetupSQPoll       = 1 << 1
	SetupSQAff        = 1 << 2
	SetupCQSize       = 1 << 3
	SetupClamp        = 1 << 4
	SetupAttachWQ     = 1 << 5
	SetupRDisabled    = 1 << 6
	SetupSubmitAll    = 1 << 7
	SetupCoopTaskrun  = 1 << 8
	SetupTaskrunFlag  = 1 << 9
	SetupSQE128       = 1 << 10
	SetupCQE32        = 1 << 11
	SetupSingleIssuer = 1 << 12
	SetupDeferTaskrun = 1 << 13
)

// Opcodes (io_uring_sqe.opcode).
const (
	OpNop uint8 = iota
	OpReadv
	OpWritev
	OpFsync
	OpReadFixed
	OpWriteFixed
	OpPollAdd
	OpPollRemove
	OpSyncFileRange
	OpSendmsg
	OpRecvmsg
	OpTimeout
	OpTimeoutRemove
	OpAccept
	OpAsyncCancel
	OpLinkTimeout
	OpConnect
	OpFallocate
	OpOpenat
	OpClose
	OpFilesUpdate
	OpStatx
	OpRead
	OpWrite
	OpFadvise
	OpMadvise
	OpSend
	OpRecv
	OpOpenat2
	OpEpollCtl
	OpSplice
	OpProvideBuffers
	OpRemoveBuffers
	OpTee
	OpShutdown
	OpRenameat
	OpUnlinkat
	OpMkdirat
	OpSymlinkat
	OpLinkat
	OpMsgRing
	OpFsetxattr
	OpSetxattr
	OpFgetxattr
	OpGetxattr
	OpSocket
	OpUringCmd
	OpSendZC
	OpSendmsgZC
	OpReadMultishot // Linux 6.7
	OpWaitid        // 6.7
	OpFutexWait     // 6.7
	OpFutexWake     // 6.7
	OpFutexWaitv    // 6.7
	OpFixedFdInstall
	OpFtruncate // 6.9
)

var opNames = [...]string{
	"NOP", "READV", "WRITEV", "FSYNC", "READ_FIXED", "WRITE_FIXED", "POLL_ADD",
	"POLL_REMOVE", "SYNC_FILE_RANGE", "SENDMSG", "RECVMSG", "TIMEOUT",
	"TIMEOUT_REMOVE", "ACCEPT", "ASYNC_CANCEL", "LINK_TIMEOUT", "CONNECT",
	"FALLOCATE", "OPENAT", "CLOSE", "FILES_UPDATE", "STATX", "READ", "WRITE",
	"FADVISE", "MADVISE", "SEND", "RECV", "OPENAT2", "EPOLL_CTL", "SPLICE",
	"PROVIDE_BUFFERS", "REMOVE_BUFFERS", "TEE", "SHUTDOWN", "RENAMEAT",
	"UNLINKAT", "MKDIRAT", "SYMLINKAT", "LINKAT", "MSG_RING", "FSETXATTR",
	"SETXATTR", "FGETXATTR", "GETXATTR", "SOCKET", "URING_CMD", "SEND_ZC",
	"SENDMSG_ZC", "READ_MULTISHOT", "WAITID", "FUTEX_WAIT", "FUTEX_WAKE",
	"FUTEX_WAITV", "FIXED_FD_INSTALL", "FTRUNCATE",
}

// OpName returns the kernel's name for an opcode, "IORING_OP_READ" for
// OpRead. It does not allocate for known opcodes.
func OpName(op uint8) string {
	if int(op) < len(opFullNames) {
		return opFullNames[op]
	}
	return "IORING_OP_" + itoa(int(op))
}

var opFullNames = func() []string {
	n := make([]string, len(opNames))
	for i, s := range opNames {
		n[i] = "IORING_OP_" + s
	}
	return n
}()

func itoa(v int) string {
	if v == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; v > 0; v /= 10 {
		i--
		b[i] = byte('0' + v%10)
	}
	return string(b[i:])
}

// SQE flags (io_uring_sqe.flags).
const (
	SQEFixedFile        = 1 << 0
	SQEIODrain          = 1 << 1
	SQEIOLink           = 1 << 2
	SQEIOHardlink       = 1 << 3
	SQEAsync            = 1 << 4
	SQEBufferSelect     = 1 << 5
	SQECQESkipSuccess   = 1 << 6
	FileIndexAlloc      = ^uint32(0)
	RegisterFilesSkip   = -2
	OpSupported         = 1 << 0 // IO_URING_OP_SUPPORTED in io_uring_probe_op.flags
	FsyncDatasync       = 1 << 0
	TimeoutAbs          = 1 << 0
	TimeoutUpdate       = 1 << 1
	TimeoutBoottime     = 1 << 2
	TimeoutRealtime     = 1 << 3
	LinkTimeoutUpdate   = 1 << 4
	TimeoutETimeSuccess = 1 << 5
)

// Async cancel flags (io_uring_sqe.cancel_flags).
const (
	AsyncCancelAll      = 1 << 0
	AsyncCancelFD       = 1 << 1
	AsyncCancelAny      = 1 << 2
	AsyncCancelFDFixed  = 1 << 3
	AsyncCancelUserdata = 1 << 4
	AsyncCancelOp       = 1 << 5
)

// Accept flags (io_uring_sqe.ioprio of IORING_OP_ACCEPT).
const (
	AcceptMultishot = 1 << 0
)

// CQE flags (io_uring_cqe.flags).
const (
	CQEFBuffer       = 1 << 0
	CQEFMore         = 1 << 1
	CQEFSockNonempty = 1 << 2
	CQEFNotif        = 1 << 3
)

// mmap offsets.
const (
	OffSQRing = 0
	OffCQRing = 0x8000000
	OffSQEs   = 0x10000000
)

// SQ ring flags (written by the kernel) and CQ ring flags (written by us).
const (
	SQNeedWakeup      = 1 << 0
	SQCQOverflow      = 1 << 1
	SQTaskrun         = 1 << 2
	CQEventfdDisabled = 1 << 0
)

// io_uring_enter flags.
const (
	EnterGetevents      = 1 << 0
	EnterSQWakeup       = 1 << 1
	EnterSQWait         = 1 << 2
	EnterExtArg         = 1 << 3
	EnterRegisteredRing = 1 << 4
)

// Feature flags (io_uring_params.features).
const (
	FeatSingleMmap     = 1 << 0
	FeatNodrop         = 1 << 1
	FeatSubmitStable   = 1 << 2
	FeatRWCurPos       = 1 << 3
	FeatCurPersonality = 1 << 4
	FeatFastPoll       = 1 << 5
	FeatPoll32Bits     = 1 << 6
	FeatSQPollNonfixed = 1 << 7
	FeatExtArg         = 1 << 8
	FeatNativeWorkers  = 1 << 9
	FeatRsrcTags       = 1 << 10
	FeatCQESkip        = 1 << 11
	FeatLinkedFile     = 1 << 12
)

// io_uring_register opcodes.
const (
	RegisterBuffers        = 0
	UnregisterBuffers      = 1
	RegisterFiles          = 2
	UnregisterFiles        = 3
	RegisterEventfd        = 4
	UnregisterEventfd      = 5
	RegisterFilesUpdate    = 6
	RegisterEventfdAsync   = 7
	RegisterProbe          = 8
	RegisterPersonality    = 9
	UnregisterPersonality  = 10
	RegisterRestrictions   = 11
	RegisterEnableRings    = 12
	RegisterFiles2         = 13
	RegisterFilesUpdate2   = 14
	RegisterBuffers2       = 15
	RegisterBuffersUpdate  = 16
	RegisterIOWQAff        = 17
	UnregisterIOWQAff      = 18
	RegisterIOWQMaxWorkers = 19
	RegisterRingFDs        = 20
	UnregisterRingFDs      = 21
	RegisterPbufRing       = 22
	UnregisterPbufRing     = 23
	RegisterSyncCancel     = 24
	RegisterFileAllocRange = 25
)

// RsrcRegisterSparse (io_uring_rsrc_register.flags) registers an empty
// table of Nr entries, to be filled by updates.
const RsrcRegisterSparse = 1 << 0

// RsrcRegister is struct io_uring_rsrc_register (RegisterBuffers2,
// RegisterFiles2): Data points at Nr iovecs (or descriptors).
type RsrcRegister struct {
	Nr    uint32
	Flags uint32
	Resv2 uint64
	Data  uint64
	Tags  uint64
}

// RsrcUpdate2 is struct io_uring_rsrc_update2 (RegisterBuffersUpdate,
// RegisterFilesUpdate2): replaces Nr entries from Offset with Data's.
type RsrcUpdate2 struct {
	Offset uint32
	Resv   uint32
	Data   uint64
	Tags   uint64
	Nr     uint32
	Resv2  uint32
}

// SQE is struct io_uring_sqe (64 bytes). Unions are named after their first
// member; the accessors below give the others their kernel names.
type SQE struct {
	Opcode      uint8
	Flags       uint8
	Ioprio      uint16
	Fd          int32
	Off         uint64 // off / addr2
	Addr        uint64 // addr / splice_off_in
	Len         uint32
	OpFlags     uint32 // rw_flags, fsync_flags, open_flags, cancel_flags, timeout_flags, ...
	UserData    uint64
	BufIndex    uint16 // buf_index / buf_group
	Personality uint16
	SpliceFdIn  int32 // splice_fd_in / file_index
	Addr3       uint64
	Pad2        uint64
}

// CQE is struct io_uring_cqe (16 bytes; rings are set up without CQE32).
type CQE struct {
	UserData uint64
	Res      int32
	Flags    uint32
}

// SQRingOffsets is struct io_sqring_offsets.
type SQRingOffsets struct {
	Head, Tail, RingMask, RingEntries, Flags, Dropped, Array, Resv1 uint32
	UserAddr                                                        uint64
}

// CQRingOffsets is struct io_cqring_offsets.
type CQRingOffsets struct {
	Head, Tail, RingMask, RingEntries, Overflow, Cqes, Flags, Resv1 uint32
	UserAddr                                                        uint64
}

// Params is struct io_uring_params.
type Params struct {
	SQEntries    uint32
	CQEntries    uint32
	Flags        uint32
	SQThreadCPU  uint32
	SQThreadIdle uint32
	Features     uint32
	WQFd         uint32
	Resv         [3]uint32
	SQOff        SQRingOffsets
	CQOff        CQRingOffsets
}

// ProbeOp is struct io_uring_probe_op.
type ProbeOp struct {
	Op    uint8
	Resv  uint8
	Flags uint16
	Resv2 uint32
}

// Probe is struct io_uring_probe with room for every opcode.
type Probe struct {
	LastOp uint8
	OpsLen uint8
	Resv   uint16
	Resv2  [3]uint32
	Ops    [256]ProbeOp
}

// Supported reports whether the kernel that filled p supports op.
func (p *Probe) Supported(op uint8) bool {
	return op <= p.LastOp && int(op) < int(p.OpsLen) && p.Ops[op].Flags&OpSupported != 0
}

// GetEventsArg is struct io_uring_getevents_arg (for EnterExtArg).
type GetEventsArg struct {
	Sigmask   uint64
	SigmaskSz uint32
	Pad       uint32
	Ts        uint64
}

// Timespec is struct __kernel_timespec.
type Timespec struct {
	Sec  int64
	Nsec int64
}
