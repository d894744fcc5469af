using System.Runtime.InteropServices;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Mmu;
using static Actorvisor.Hardware.Soft.UnicornNative;

namespace Actorvisor.Hardware.Soft;

/// <summary>
/// One vCPU's Unicorn engine for one memslot generation: every memslot mapped onto its host memory with
/// uc_mem_map_ptr (the same pages every vCPU and the VMM see, no copies), trapped at first (UC_PROT_NONE: see
/// <see cref="SoftMemoryMap"/>, which then follows the SPTEs), every gap between slots mapped as MMIO up to
/// <see cref="MmioTop"/>, and the exit and fault hooks installed. A memslot change builds a new engine
/// and moves the CPU state over (<see cref="CopyStateTo"/>): Unicorn 2.0.1 cannot unmap part of a large
/// MMIO region cheaply (it re-maps the whole region and flushes its TLB page by page).
/// </summary>
internal sealed unsafe class SoftCpuEngine : IDisposable
{
    /// <summary>
    /// MMIO gaps cover guest-physical [0, MmioTop), so that any guest access outside the memslots, at
    /// any address a 64-bit guest can form, reaches the exit handler instead of failing as unmapped.
    /// </summary>
    public const ulong MmioTop = 0xFFFF_FFFF_FFFF_E000;

    /// <summary>What an MMIO callback gets as user data: the vCPU and the gap's base address.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MmioRegion
    {
        public nint Vcpu;
        public ulong Base;
    }

    private readonly List<nint> _regions = [];
    private bool _disposed;

    private SoftCpuEngine(UnicornEngine uc, MemslotSet memslots, SoftMmu mmu, Action installFinished)
    {
        Uc = uc;
        Memslots = memslots;
        Map = new SoftMemoryMap(uc, mmu, memslots, installFinished);
        Context = uc.AllocContext();
        BlobSize = uc.ContextSize - UnicornCpuContext.HeaderSize;
    }

    /// <summary>The engine.</summary>
    public UnicornEngine Uc { get; }

    /// <summary>The memslots this engine maps.</summary>
    public MemslotSet Memslots { get; }

    /// <summary>How the engine maps each RAM slot, following the SPTEs.</summary>
    public SoftMemoryMap Map { get; }

    /// <summary>The memslot generation this engine maps.</summary>
    public long Generation => Memslots.Generation;

    /// <summary>A uc_context owned by this engine, reused for every state transfer.</summary>
    public nint Context { get; }

    /// <summary>Bytes of CPU state in <see cref="Context"/>.</summary>
    public int BlobSize { get; }

    /// <summary>The CPU state bytes inside <see cref="Context"/>.</summary>
    public byte* Blob => UnicornCpuContext.Blob(Context);

    /// <summary>
    /// True when the engine was built while the guest uses async page faults: lazy slots are never mapped whole, so every
    /// access to a missing lazy page reaches a fault hook, which may tell the guest "page not present".
    /// </summary>
    public bool AsyncPf { get; private init; }

    /// <summary>
    /// The blocks (inclusive guest-virtual ranges) that carry a code hook, so their accesses fault precisely
    /// (SoftExitHooks.Install); once there is any, RIP must be put back where a stop hook stopped.
    /// </summary>
    public IReadOnlyList<(ulong First, ulong Last)> PreciseBlocks { get; private set; } = [];

    // Whether the stop hooks are the native ones (SoftExitHooks.PreferNativeStopHooks when built); blocks added later
    // get the same kind of code hook.
    private bool _nativeStopHooks;

    /// <summary>
    /// Whether <paramref name="preciseBlocks"/> is <see cref="PreciseBlocks"/> with blocks appended, so that
    /// <see cref="AddPreciseBlocks"/> can give this engine the new ones instead of a new engine being built.
    /// </summary>
    public bool CanExtendPreciseBlocks(IReadOnlyList<(ulong First, ulong Last)> preciseBlocks)
    {
        if (preciseBlocks.Count <= PreciseBlocks.Count) return false;
        for (int i = 0; i < PreciseBlocks.Count; i++)
            if (preciseBlocks[i] != PreciseBlocks[i]) return false;
        return true;
    }

    /// <summary>
    /// Gives the blocks of <paramref name="preciseBlocks"/> past <see cref="PreciseBlocks"/> (see
    /// <see cref="CanExtendPreciseBlocks"/>) their code hook in this engine and drops QEMU's translations of them, so they
    /// run with it from the next uc_emu_start; the rest of the translated code stays. The vCPU thread, between two
    /// uc_emu_start, for blocks the CPU just ran (the fault hook learns them from the block it faulted in): a rebuilt
    /// engine cost ~11 ms, all of which the vCPU did not compute.
    /// </summary>
    public void AddPreciseBlocks(IReadOnlyList<(ulong First, ulong Last)> preciseBlocks, nint stopWords)
    {
        if (!CanExtendPreciseBlocks(preciseBlocks)) throw new ArgumentException("the precise blocks must extend the engine's", nameof(preciseBlocks));
        for (int i = PreciseBlocks.Count; i < preciseBlocks.Count; i++)
        {
            var (first, last) = preciseBlocks[i];
            SoftExitHooks.AddPreciseBlock(Uc, stopWords, first, last, _nativeStopHooks);
            Uc.RemoveTranslations(first, last == ulong.MaxValue ? last : last + 1);
        }
        PreciseBlocks = preciseBlocks;
    }

    /// <summary>Whether the block of <paramref name="size"/> bytes at <paramref name="start"/> lies inside one of <see cref="PreciseBlocks"/>.</summary>
    public bool IsPrecise(ulong start, uint size)
    {
        if (size == 0) return false;
        ulong last = start + size - 1;
        foreach (var (first, end) in PreciseBlocks)
            if (start >= first && last <= end) return true;
        return false;
    }

    /// <summary>True once guest code ran, so the TLB may hold translations.</summary>
    public bool HasRun { get; set; }

    /// <summary>
    /// Opens a 64-bit-mode engine (the mode only selects Unicorn's register API; the CPU's real mode comes
    /// from the state written through the context), maps <paramref name="memslots"/> (trapped) and the MMIO
    /// gaps, and installs the exit hooks with <paramref name="vcpu"/> (a GCHandle of the SoftVcpu) as user
    /// data and <paramref name="stopWords"/> (a <see cref="SoftStopWords"/>) as the stop hooks'; <paramref name="asyncPf"/>
    /// and <paramref name="preciseBlocks"/>: see <see cref="AsyncPf"/> and <see cref="PreciseBlocks"/>.
    /// <paramref name="installFinished"/> wakes the vCPU when a large slot's SPTEs were installed off its thread
    /// (<see cref="SoftMemoryMap"/>).
    /// </summary>
    public static SoftCpuEngine Create(MemslotSet memslots, SoftMmu mmu, nint vcpu, nint stopWords, bool asyncPf,
        IReadOnlyList<(ulong First, ulong Last)> preciseBlocks, Action installFinished)
    {
        var uc = UnicornEngine.Open(UC_MODE_64);
        SoftCpuEngine? engine = null;
        try
        {
            engine = new SoftCpuEngine(uc, memslots, mmu, installFinished) { AsyncPf = asyncPf, PreciseBlocks = preciseBlocks };
            uc.DisableUntilAddress();
            ulong cursor = 0;
            foreach (var slot in memslots.Slots)
            {
                if (slot.End > SoftMsrIntercept.Base)
                    throw new MemslotException($"memslot {slot.Slot} [0x{slot.GuestPhysAddr:x}, 0x{slot.End:x}) reaches above 0x{SoftMsrIntercept.Base:x}, the top of the software accelerator's guest-physical RAM (the MSR-intercept window and 0x{MmioTop:x} lie above)");
                if (slot.GuestPhysAddr > cursor) engine.MapGap(vcpu, cursor, slot.GuestPhysAddr - cursor);
                // Trapped until a fault maps it whole (SoftMemoryMap). Only uc_mem_protect marks a uc_mem_map_ptr
                // region read-only for QEMU's TLB (uc_mem_map_ptr keeps just the permission bits), and only then does
                // every guest write take the slow path to the UC_HOOK_MEM_WRITE_PROT hook with QEMU itself dropping
                // the store (the hook performs it, or reports it as MMIO).
                uc.MapHostMemory(slot.GuestPhysAddr, slot.Size, UC_PROT_ALL, slot.HostAddress);
                uc.Protect(slot.GuestPhysAddr, slot.Size, UC_PROT_NONE);
                cursor = slot.End;
            }
            if (cursor < MmioTop) engine.MapGap(vcpu, cursor, MmioTop - cursor);
            engine._nativeStopHooks = SoftExitHooks.PreferNativeStopHooks;
            SoftExitHooks.Install(uc, vcpu, stopWords, preciseBlocks, engine._nativeStopHooks);
            return engine;
        }
        catch
        {
            if (engine is not null) engine.Dispose();
            else uc.Dispose();
            throw;
        }
    }

    private void MapGap(nint vcpu, ulong gpa, ulong size)
    {
        var region = (MmioRegion*)NativeMemory.Alloc((nuint)sizeof(MmioRegion));
        region->Vcpu = vcpu;
        region->Base = gpa;
        _regions.Add((nint)region);
        Uc.MapMmio(gpa, size, SoftExitHooks.MmioRead, SoftExitHooks.MmioWrite, (nint)region);
    }

    /// <summary>Copies the CPU state into <see cref="Blob"/> (uc_context_save).</summary>
    public byte* SaveState()
    {
        Uc.SaveContext(Context);
        return Blob;
    }

    /// <summary>Loads <see cref="Blob"/> into the CPU (uc_context_restore).</summary>
    public void RestoreState() => Uc.RestoreContext(Context);

    /// <summary>Moves the whole CPU state (registers, segment caches, hflags, intercepts) to <paramref name="other"/>.</summary>
    public void CopyStateTo(SoftCpuEngine other)
    {
        SaveState();
        Buffer.MemoryCopy(Blob, other.Blob, other.BlobSize, BlobSize);
        other.RestoreState();
    }

    /// <summary>Closes the engine and frees the context and the MMIO user data.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Uc.Dispose();
        uc_context_free(Context);
        foreach (var r in _regions) NativeMemory.Free((void*)r);
        _regions.Clear();
    }
}
