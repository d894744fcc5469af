using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Mmu;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Tests.Mmu;

/// <summary>A SoftMmu over real mmap'd guest RAM with one memslot (slot 0 at <see cref="Base"/>).</summary>
internal sealed class MmuTestVm : IDisposable
{
    public const ulong Base = 0x10_0000;

    private MmuTestVm(HostMemory memory, SoftMmu mmu, Memslot slot, MmuHooks hooks)
    {
        Memory = memory;
        Mmu = mmu;
        Slot = slot;
        Hooks = hooks;
    }

    public HostMemory Memory { get; }
    public SoftMmu Mmu { get; }
    public Memslot Slot { get; private set; }
    public MmuHooks Hooks { get; }
    public SpteTable Table => Mmu.TableOf(Slot.Slot)!;

    public static MmuTestVm Create(ulong pages, MemslotFlags flags = MemslotFlags.None, bool manualProtect = false, TimeSpan? flushTimeout = null)
    {
        var hooks = new MmuHooks();
        var memory = HostMemory.Allocate(pages * PageSize.Bytes);
        var mmu = new SoftMmu(new SoftMmuOptions { ManualProtect = manualProtect, FlushTimeout = flushTimeout ?? TimeSpan.FromSeconds(10) }, hooks);
        var slot = Memslot.For(0, Base, memory, flags);
        mmu.SetMemslots(MemslotSet.Of([slot]));
        return new MmuTestVm(memory, mmu, slot, hooks);
    }

    public static ulong Gpa(ulong page, ulong offset = 0) => Base + page * PageSize.Bytes + offset;
    public static ulong Gfn(ulong page) => (Base >> PageSize.Shift) + page;

    public Spte Spte(ulong page) => Table.Read(page);

    public void SetFlags(MemslotFlags flags)
    {
        Slot = Slot with { Flags = flags };
        Mmu.SetMemslots(Mmu.Memslots.With(Slot));
    }

    public void EnableDirtyLog() => SetFlags(Slot.Flags | MemslotFlags.LogDirtyPages);

    /// <summary>What a vCPU does on a write fault: resolve it, then write to guest memory.</summary>
    public FaultResult GuestWrite(ulong page, ulong value)
    {
        var r = Mmu.Fault(Gpa(page), MmuAccess.Write);
        if (r.IsResolved) Memory.Write(page * PageSize.Bytes, value);
        return r;
    }

    public void Dispose()
    {
        Mmu.Dispose();
        Memory.Dispose();
    }
}
