/*
 * bcryptprimitives.dll for Wine 8.0, which lacks ProcessPrng: Go >= 1.22
 * binaries for windows import it at start-up and exit without it.
 * ProcessPrng fills a buffer with cryptographically random bytes and
 * never fails; RtlGenRandom (advapi32's SystemFunction036) does the same
 * for at most 4 GiB - 1 at a time.
 *
 * Built by scripts/test-windows.sh with
 *   x86_64-w64-mingw32-gcc -shared -O2 -o bcryptprimitives.dll \
 *     bcryptprimitives.c bcryptprimitives.def -ladvapi32
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved)
{
	(void)inst;
	(void)reason;
	(void)reserved;
	return TRUE;
}
