using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Mmu;

/// <summary>
/// A vCPU's software TLB over a <see cref="SoftMmu"/>: guest-physical reads and writes go through cached
/// translations that are filled from the SPTEs (the "page walk"), fault into the MMU when the SPTE does not
/// allow the access, and are dropped by remote TLB flushes. It is the reference implementation of the
/// <see cref="ITlbFlushTarget"/> seam (the Unicorn accelerator implements the same seam over the emulator's
/// memory map) and the path for code that performs guest accesses in software on a vCPU thread.
/// <para>
/// Threading: one vCPU thread calls <see cref="EnterGuest"/>, the accessors and <see cref="ExitGuest"/>;
/// <see cref="Kick"/> and the inspection members may be called from any thread. Accessors are only valid in
/// guest mode; they leave guest mode around a fault (so a flush never waits for a faulting vCPU) and
/// re-enter it, applying any flush requested meanwhile, before retrying.
/// </para>
/// </summary>
public sealed unsafe class SoftTlb : ITlbFlushTarget, IDisposable
{
    private const int Entries = 512;

    private sealed record Entry(ulong Gfn, nint HostPage, bool Writable);

    private readonly SoftMmu _mmu;
    private readonly Entry?[] _entries = new Entry?[Entries];
    private volatile bool _kicked;
    private long _fills, _faults, _flushes;

    /// <summary>Creates the TLB of vCPU <paramref name="vcpuId"/> and registers it for TLB flushes.</summary>
    public SoftTlb(SoftMmu mmu, int vcpuId)
    {
        ArgumentNullException.ThrowIfNull(mmu);
        _mmu = mmu;
        VcpuId = vcpuId;
        Participant = mmu.Tlb.Register(this);
    }

    /// <inheritdoc />
    public int VcpuId { get; }

    /// <summary>This vCPU's side of the flush protocol.</summary>
    public TlbFlushParticipant Participant { get; }

    /// <summary>True once a kick asked the vCPU to leave guest mode; guest loops poll it between instructions.</summary>
    public bool IsKicked => _kicked;

    /// <summary>Translations filled from SPTEs so far.</summary>
    public long Fills => Volatile.Read(ref _fills);

    /// <summary>Faults taken into the MMU so far.</summary>
    public long Faults => Volatile.Read(ref _faults);

    /// <summary>Flushes applied so far.</summary>
    public long FlushesApplied => Volatile.Read(ref _flushes);

    /// <summary>Enters guest mode (applying pending flushes first) and clears the kick.</summary>
    public void EnterGuest()
    {
        _kicked = false;
        Participant.EnterGuest();
    }

    /// <summary>Leaves guest mode; a waiting flush requester counts this as the acknowledgement.</summary>
    public void ExitGuest() => Participant.ExitGuest();

    /// <inheritdoc />
    public void Kick() => _kicked = true;

    /// <inheritdoc />
    public void FlushTlb()
    {
        for (int i = 0; i < Entries; i++) Volatile.Write(ref _entries[i], null);
        Interlocked.Increment(ref _flushes);
    }

    /// <summary>True if the TLB holds a translation of <paramref name="gfn"/> (writable if <paramref name="writable"/>).</summary>
    public bool HasTranslation(ulong gfn, bool writable = false) =>
        Volatile.Read(ref _entries[(int)(gfn % Entries)]) is { } e && e.Gfn == gfn && (!writable || e.Writable);

    /// <summary>The gfns of the cached writable translations.</summary>
    public IReadOnlyList<ulong> WritableTranslations() =>
        _entries.Select(e => Volatile.Read(ref e)).Where(e => e is { Writable: true }).Select(e => e!.Gfn).ToArray();

    /// <summary>
    /// Guest write of <paramref name="value"/> at <paramref name="gpa"/> (must not cross a page). False with
    /// <paramref name="failure"/> when the MMU cannot resolve it (MMIO, not permitted): the caller exits.
    /// </summary>
    public bool TryWrite<T>(ulong gpa, T value, out FaultResult failure) where T : unmanaged
    {
        var host = Translate(gpa, sizeof(T), MmuAccess.Write, out failure);
        if (host == 0) return false;
        *(T*)host = value;
        return true;
    }

    /// <summary>Guest read at <paramref name="gpa"/> (must not cross a page). False with <paramref name="failure"/> when unresolved.</summary>
    public bool TryRead<T>(ulong gpa, out T value, out FaultResult failure) where T : unmanaged
    {
        var host = Translate(gpa, sizeof(T), MmuAccess.Read, out failure);
        value = host == 0 ? default : *(T*)host;
        return host != 0;
    }

    private nint Translate(ulong gpa, int size, MmuAccess access, out FaultResult failure)
    {
        ulong offset = gpa & (PageSize.Bytes - 1);
        if (offset + (ulong)size > PageSize.Bytes) throw new ArgumentOutOfRangeException(nameof(gpa), $"a {size}-byte access at 0x{gpa:x} crosses a page boundary");
        if (!Participant.IsInGuest) throw new InvalidOperationException($"vCPU {VcpuId}: guest accesses are only valid in guest mode (call EnterGuest)");
        ulong gfn = gpa >> PageSize.Shift;
        ref Entry? slot = ref _entries[(int)(gfn % Entries)];
        while (true)
        {
            var e = Volatile.Read(ref slot);
            if (e is not null && e.Gfn == gfn && (access != MmuAccess.Write || e.Writable))
            {
                failure = default;
                return e.HostPage + (nint)offset;
            }
            // The page walk: read the SPTE locklessly, as hardware would. A flush requested after this read
            // waits for this vCPU to leave guest mode, so a stale fill is dropped before the requester returns.
            if (_mmu.TryWalk(gpa, access, out var spte))
            {
                Volatile.Write(ref slot, new Entry(gfn, spte.HostAddress, spte.IsWritable));
                Interlocked.Increment(ref _fills);
                continue;
            }
            Interlocked.Increment(ref _faults);
            Participant.ExitGuest();
            FaultResult result;
            try { result = _mmu.Fault(gpa, access); }
            finally { EnterGuest(); }
            if (!result.IsResolved)
            {
                failure = result;
                return 0;
            }
        }
    }

    /// <summary>Unregisters from TLB flushes.</summary>
    public void Dispose() => Participant.Dispose();
}
