using Actorvisor.Hardware.Mmu;
using Actorvisor.Hardware.Lazy.Uapi;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Lazy;

/// <summary>
/// Guest RAM whose pages arrive on first touch: a <see cref="HostMemory"/> mapping registered with a
/// userfaultfd in missing mode. A dedicated reader thread turns each fault into a <see cref="PageFault"/>
/// for the <see cref="IPageFaultSink"/>, which fetches the page and installs it with <see cref="TryInstall"/>
/// (UFFDIO_COPY) or <see cref="TryInstallZero"/> (UFFDIO_ZEROPAGE); the kernel then wakes the faulting thread.
/// It backs a memslot exactly like plain host memory, so KVM's faults (in the kernel) and the software
/// accelerator's (in Unicorn's native code) both come through the same userfaultfd.
/// </summary>
/// <remarks>
/// Touch lazy pages from native code or the accelerator, not from managed code on a .NET thread: a managed
/// thread blocked on a fault cannot reach a GC safe point, so a GC started meanwhile would wait for it while
/// the reader thread, suspended by that GC, cannot resolve the fault. Host-side code that needs a page
/// installs it first (<see cref="SynchronousPageResolver.Resolve"/>) and then reads it.
/// Dispose only after the threads that touch the memory (vCPUs) have stopped.
/// </remarks>
public sealed unsafe class LazyGuestMemory : IPagePopulation, IDisposable
{
    private readonly HostMemory _memory;
    private readonly Userfaultfd _uffd;
    private readonly IPageFaultSink _sink;
    private readonly PageFaultReader _reader;
    private readonly InstallGate _gate = new();
    // Never disposed: it has no timer, and Closing must stay readable after Dispose.
    private readonly CancellationTokenSource _closing = new();
    private readonly ulong[] _present;
    // The mapping's address and size, kept so that population queries still answer (false) after the unmap.
    private readonly nint _base;
    private readonly ulong _size;
    private readonly bool _hasZeroPage;
    private long _presentPages;
    private int _disposed;
    private volatile bool _unmapped;
    // Set by Dispose before the memory goes away: from then on no page counts as populated.
    private volatile bool _populationRevoked;
    private long _installsAfterUnmap;
    private long _refusedAfterClose;
    // Test-only: lets installs past a closed gate, to prove the write-after-unmap check catches what the gate prevents.
    private bool _gateBypassedForTest;

    private LazyGuestMemory(HostMemory memory, Userfaultfd uffd, ulong rangeIoctls, IPageFaultSink sink, string name)
    {
        _memory = memory;
        _uffd = uffd;
        _sink = sink;
        _base = memory.Address;
        _size = memory.Size;
        _present = new ulong[(PageCount + 63) / 64];
        _hasZeroPage = (rangeIoctls & (1UL << UffdIoctl.ZeroPageBit)) != 0;
        Name = name;
        _reader = new PageFaultReader(uffd, OnMessage, $"uffd:{name}");
    }

    /// <summary>
    /// Maps <paramref name="size"/> bytes (a multiple of 4 KiB) with no page present, registers them with a new
    /// userfaultfd in missing mode and starts the fault reader that feeds <paramref name="sink"/>.
    /// </summary>
    /// <exception cref="SyscallException">userfaultfd is unavailable or refuses the range.</exception>
    public static LazyGuestMemory Create(ulong size, IPageFaultSink sink, HostMemoryBacking backing = HostMemoryBacking.Anonymous, string name = "lazy-guest-ram")
    {
        ArgumentNullException.ThrowIfNull(sink);
        var memory = HostMemory.Allocate(size, backing, name, transparentHugePages: false);
        Userfaultfd? uffd = null;
        try
        {
            uffd = Userfaultfd.Open();
            ulong ioctls = uffd.Register(memory.Address, size);
            const ulong needed = 1UL << UffdIoctl.CopyBit | 1UL << UffdIoctl.WakeBit;
            if ((ioctls & needed) != needed)
                throw new NotSupportedException($"{name}: the kernel registered the range without UFFDIO_COPY/UFFDIO_WAKE (ioctls 0x{ioctls:x})");
            return new LazyGuestMemory(memory, uffd, ioctls, sink, name);
        }
        catch
        {
            uffd?.Dispose();
            memory.Dispose();
            throw;
        }
    }

    /// <summary>The region's name (thread and error messages).</summary>
    public string Name { get; }

    /// <summary>
    /// The mapping, for <see cref="Memslot.For"/> and accelerators. Its managed accessors touch pages; see the
    /// remarks on this class before using them on pages that may be missing.
    /// </summary>
    public HostMemory Memory => _memory;

    /// <summary>The host virtual address of the first byte.</summary>
    public nint Address => _memory.Address;

    /// <summary>Size in bytes.</summary>
    public ulong Size => _memory.Size;

    /// <summary>Number of 4 KiB pages.</summary>
    public ulong PageCount => _memory.Size >> PageSize.Shift;

    /// <summary>A memslot covering the whole region at <paramref name="guestPhysAddr"/>, which knows which of its pages are populated.</summary>
    public Memslot ToMemslot(uint slot, ulong guestPhysAddr, MemslotFlags flags = MemslotFlags.None) =>
        Memslot.For(slot, guestPhysAddr, _memory, flags) with { Population = this };

    /// <summary>Cancelled when teardown starts: backing-store reads on the region's behalf should stop.</summary>
    public CancellationToken Closing => _closing.Token;

    /// <summary>True once teardown has started; every install answers <see cref="PageInstall.RegionClosed"/>.</summary>
    public bool IsClosed => _gate.IsClosed;

    /// <summary>Pages installed so far (by anyone, counted once each).</summary>
    public long PresentPages => Interlocked.Read(ref _presentPages);

    /// <summary>Page-fault messages read so far.</summary>
    public long FaultsRead => _reader.Messages;

    /// <summary>Faults whose sink threw; each such fault stays pending.</summary>
    public long SinkErrors => _reader.CallbackErrors;

    /// <summary>The sink's last exception, or the error that ended the reader; null if none.</summary>
    public Exception? LastReaderError => _reader.LastError;

    /// <summary>True while the fault reader runs.</summary>
    public bool IsReadingFaults => _reader.IsRunning;

    /// <summary>
    /// Write-after-unmap check, kept apart from the gate: installs (and wakes) that were inside their critical
    /// section while or after the memory was unmapped — counted before the ioctl if the unmap came first, and after
    /// it if the unmap happened meanwhile. With the gate working this stays 0, which tests assert; a test that
    /// bypasses the gate (<see cref="BypassInstallGateForTest"/>) shows it goes non-zero when the gate fails.
    /// </summary>
    public long InstallsAfterUnmap => Interlocked.Read(ref _installsAfterUnmap);

    /// <summary>
    /// Installs and wakes refused because teardown had begun (each answered <see cref="PageInstall.RegionClosed"/>
    /// or false). Non-zero shows a run really raced an install against teardown and the gate refused it.
    /// </summary>
    public long RefusedAfterClose => Interlocked.Read(ref _refusedAfterClose);

    /// <summary>
    /// Negative control for tests only: from now on installs and wakes skip the gate, so one that comes after
    /// <see cref="Dispose"/> reaches the unmapped memory's ioctl path and <see cref="InstallsAfterUnmap"/> counts it.
    /// </summary>
    internal void BypassInstallGateForTest() => Volatile.Write(ref _gateBypassedForTest, true);

    /// <summary>
    /// True if the page holding <paramref name="hostAddress"/> is populated now, without blocking: its present bit is
    /// set, the region is not being torn down, and the address is inside it. The bit is set only after the
    /// UFFDIO_COPY / UFFDIO_ZEROPAGE that mapped the page returned (Installed, or AlreadyPresent when another
    /// installer won), with a full fence, so true means a touch of the page will not fault to the reader. Pages go
    /// away only when the region is torn down (nothing discards single pages), and <see cref="Dispose"/> revokes
    /// every bit before it unregisters and unmaps. An MMU zap drops the translation, not the host page, and so
    /// leaves the bit alone.
    /// </summary>
    public bool IsPopulated(nint hostAddress)
    {
        ulong offset = (ulong)(hostAddress - _base);
        if (offset >= _size || _populationRevoked) return false;
        ulong page = offset >> PageSize.Shift;
        bool present = (Volatile.Read(ref _present[page >> 6]) & (1UL << (int)(page & 63))) != 0;
        // Read after the bit: a Dispose that began meanwhile wins, so a caller never acts on a page being unmapped.
        return present && !_populationRevoked;
    }

    /// <summary>True if page <paramref name="pageIndex"/> has been installed.</summary>
    public bool IsPresent(ulong pageIndex)
    {
        CheckPage(pageIndex);
        return (Volatile.Read(ref _present[pageIndex >> 6]) & (1UL << (int)(pageIndex & 63))) != 0;
    }

    /// <summary>
    /// Installs page <paramref name="pageIndex"/> with a copy of <paramref name="page"/> (4096 bytes) through
    /// UFFDIO_COPY, waking the threads waiting on it. Never writes a present page (that is
    /// <see cref="PageInstall.AlreadyPresent"/>) and never writes after teardown began (<see cref="PageInstall.RegionClosed"/>).
    /// </summary>
    public PageInstall TryInstall(ulong pageIndex, ReadOnlySpan<byte> page)
    {
        CheckPage(pageIndex);
        if ((ulong)page.Length != PageSize.Bytes) throw new ArgumentException($"a page is {PageSize.Bytes} bytes, got {page.Length}", nameof(page));
        if (!Enter(out bool entered)) return PageInstall.RegionClosed;
        try
        {
            bool counted = CountIfUnmapped(false);
            PageInstall result;
            fixed (byte* src = page) result = _uffd.Copy(_memory.Address + (nint)(pageIndex << PageSize.Shift), (nint)src, PageSize.Bytes);
            CountIfUnmapped(counted);
            MarkPresent(pageIndex);
            return result;
        }
        finally
        {
            if (entered) _gate.Exit();
        }
    }

    /// <summary>
    /// Installs page <paramref name="pageIndex"/> as zeros (UFFDIO_ZEROPAGE: the shared zero page, no copy, where
    /// the mapping supports it; otherwise a copy of a zero page), waking the threads waiting on it.
    /// </summary>
    public PageInstall TryInstallZero(ulong pageIndex)
    {
        if (!_hasZeroPage) return TryInstall(pageIndex, ZeroPage.Span);
        CheckPage(pageIndex);
        if (!Enter(out bool entered)) return PageInstall.RegionClosed;
        try
        {
            bool counted = CountIfUnmapped(false);
            var result = _uffd.ZeroPage(_memory.Address + (nint)(pageIndex << PageSize.Shift), PageSize.Bytes);
            CountIfUnmapped(counted);
            MarkPresent(pageIndex);
            return result;
        }
        finally
        {
            if (entered) _gate.Exit();
        }
    }

    /// <summary>UFFDIO_WAKE for one page; false if the region is closed.</summary>
    public bool Wake(ulong pageIndex)
    {
        CheckPage(pageIndex);
        if (!Enter(out bool entered)) return false;
        try
        {
            bool counted = CountIfUnmapped(false);
            _uffd.Wake(_memory.Address + (nint)(pageIndex << PageSize.Shift), PageSize.Bytes);
            CountIfUnmapped(counted);
        }
        finally
        {
            if (entered) _gate.Exit();
        }
        return true;
    }

    /// <summary>
    /// Makes pages [<paramref name="firstPage"/>, +<paramref name="count"/>) missing again (MADV_DONTNEED on the
    /// anonymous mapping, present bits cleared): their next touch faults to the sink. For a region no thread touches
    /// yet, such as a post-copy migration target before its vCPUs run, dropping pages whose copy went stale; with
    /// threads running, one could read the page while it goes away.
    /// </summary>
    public void Discard(ulong firstPage, ulong count) => Discard([(firstPage, count)]);

    /// <summary>
    /// <see cref="Discard(ulong, ulong)"/> for many runs of pages (each its first page and its count) at once: the
    /// kernel drops up to <see cref="BulkDontNeed.RangesPerCall"/> runs a system call (<see cref="BulkDontNeed"/>).
    /// Returns the system calls made. The same rule: only while no thread touches the pages.
    /// </summary>
    public int Discard(ReadOnlySpan<(ulong FirstPage, ulong Count)> runs)
    {
        var ranges = new (nint Address, ulong Length)[runs.Length];
        int used = 0;
        foreach (var (first, count) in runs)
        {
            if (count == 0) continue;
            CheckPage(first);
            CheckPage(first + count - 1);
            ranges[used++] = (_memory.Address + (nint)(first << PageSize.Shift), count << PageSize.Shift);
        }
        if (used == 0) return 0;
        if (!Enter(out bool entered)) return 0;
        try
        {
            int calls = BulkDontNeed.Drop(ranges.AsSpan(0, used));
            foreach (var (first, count) in runs)
            {
                for (ulong page = first; page < first + count; page++)
                {
                    ulong bit = 1UL << (int)(page & 63);
                    if ((Interlocked.And(ref _present[page >> 6], ~bit) & bit) != 0) Interlocked.Decrement(ref _presentPages);
                }
            }
            return calls;
        }
        finally
        {
            if (entered) _gate.Exit();
        }
    }

    /// <summary>
    /// Stops delivering faults to the sink. Threads already blocked (or faulting later) stay blocked until their
    /// page is installed or the region is disposed. Returns true once the reader has ended.
    /// </summary>
    public bool StopFaultReader(TimeSpan timeout) => _reader.Stop(timeout);

    /// <summary>
    /// Tears the region down in the order that keeps every install safe: cancel <see cref="Closing"/>, close the
    /// install gate (new installs get <see cref="PageInstall.RegionClosed"/>; in-flight ones finish), stop the
    /// reader, unregister (threads still blocked wake and fault as plain memory), close the userfaultfd, unmap.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        // Waits for installs in flight and for the fault reader; a fault holding mmu_lock would wait for them too.
        MmuLock.AssertNotHeld($"tear {Name} down");
        _closing.Cancel();
        _gate.Close();
        // No install is inside the gate or can enter it: no present bit changes from here on. Revoke them all before
        // the pages go away (unregister lets them fault as plain memory; the unmap removes them).
        _populationRevoked = true;
        // The sink may be inside a slow store read; it sees Closing, and any install it tries is refused,
        // so proceeding after the timeout is safe. The reader then dies on the closed descriptor.
        _reader.Dispose();
        try { _uffd.Unregister(_memory.Address, _memory.Size); }
        finally
        {
            _uffd.Dispose();
            _unmapped = true;
            _memory.Dispose();
            _gate.Dispose();
        }
    }

    private void OnMessage(UffdMsg msg)
    {
        ulong offset = msg.PageFaultAddress - (ulong)_memory.Address;
        if (offset >= Size) return; // not ours: the descriptor registers this one range only
        var fault = new PageFault(offset >> PageSize.Shift, (nint)msg.PageFaultAddress,
            (msg.PageFaultFlags & UffdIoctl.PageFaultFlagWrite) != 0, (int)msg.PageFaultThreadId);
        _sink.OnPageFault(this, fault);
    }

    // Enters the gate; a refusal is counted. With the gate bypassed (a test's negative control) it lets the
    // caller through without entering, so the caller must not exit.
    private bool Enter(out bool entered)
    {
        entered = _gate.TryEnter();
        if (entered || Volatile.Read(ref _gateBypassedForTest)) return true;
        Interlocked.Increment(ref _refusedAfterClose);
        return false;
    }

    // Called before the ioctl and after it: one count per critical section that overlapped the unmap.
    private bool CountIfUnmapped(bool counted)
    {
        if (counted || !_unmapped) return counted;
        Interlocked.Increment(ref _installsAfterUnmap);
        return true;
    }

    private void MarkPresent(ulong pageIndex)
    {
        ulong bit = 1UL << (int)(pageIndex & 63);
        if ((Interlocked.Or(ref _present[pageIndex >> 6], bit) & bit) == 0) Interlocked.Increment(ref _presentPages);
    }

    private void CheckPage(ulong pageIndex)
    {
        if (pageIndex >= PageCount)
            throw new ArgumentOutOfRangeException(nameof(pageIndex), $"page {pageIndex} is outside {Name} ({PageCount} pages)");
    }

    private static readonly ReadOnlyMemory<byte> ZeroPage = new byte[PageSize.Bytes];
}
