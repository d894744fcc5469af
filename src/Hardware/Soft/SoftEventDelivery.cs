using System.Buffers.Binary;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Mmu;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Soft;

/// <summary>
/// Owns the delivery of exceptions and interrupts into a software-accelerator guest, which Unicorn 2.0.1 does
/// not do (it hands every exception to UC_HOOK_INTR): real mode through the IVT; protected mode through 16- and
/// 32-bit interrupt and trap gates, with the stack switch from the 32-bit TSS on a privilege change; long mode
/// through 64-bit gates with the TSS's RSPn or IST stack. A fault while delivering is combined with the event
/// being delivered as SDM vol. 3 table 6-5 says (a double fault, or the second fault alone), and a fault while
/// delivering a double fault is a triple fault: a <see cref="VcpuExit.Shutdown"/>, as KVM reports it.
/// Works on a <see cref="CpuState"/> read from the engine and written back only when delivery succeeds.
/// Not covered: task gates (an internal error), virtual-8086 mode, and segment-limit checks of the stack.
/// </summary>
internal static class SoftEventDelivery
{
    private const ulong FlagTf = 1 << 8, FlagIf = 1 << 9, FlagNt = 1 << 14, FlagRf = 1 << 16, FlagVm = 1 << 17, FlagAc = 1 << 18;

    /// <summary>The architectural state delivery reads and changes.</summary>
    internal struct CpuState
    {
        public ulong Rip, Rsp, Rflags;
        public SpecialRegisters Sregs;
        public bool Cr2Written;
    }

    /// <summary>Why one delivery attempt stopped: a fault to combine, or something this class does not emulate.</summary>
    private readonly record struct Failure(GuestEvent? Fault, string? Unsupported);

    /// <summary>
    /// Delivers <paramref name="ev"/>, updating <paramref name="cpu"/> and guest memory; returns null when the
    /// guest goes on at its handler, or the exit that ends the run (triple fault, unsupported delivery).
    /// </summary>
    public static VcpuExit? Deliver(ref CpuState cpu, GuestEvent ev, MemslotSet slots, SoftMmu mmu)
    {
        var current = ev;
        string history = $"{ev} at RIP 0x{cpu.Rip:x} (CS base 0x{cpu.Sregs.Cs.Base:x})";
        for (int attempt = 0; attempt < 4; attempt++)
        {
            var work = cpu;
            if (current.Cr2 is { } cr2)
            {
                work.Sregs = work.Sregs with { Cr2 = cr2 };
                work.Cr2Written = true;
            }
            var failure = TryDeliver(ref work, current, slots, mmu);
            if (failure is null)
            {
                cpu = work;
                return null;
            }
            if (failure.Value.Unsupported is { } why)
                return new VcpuExit.InternalError($"cannot deliver {current} at RIP 0x{cpu.Rip:x}: {why}");
            var fault = failure.Value.Fault!.Value;
            history += $", then {fault} while delivering it";
            if (current.Kind == GuestEventKind.Exception && current.Vector == GuestEvent.DoubleFault)
                return new VcpuExit.Shutdown($"triple fault: {history}");
            current = Combine(current, fault);
        }
        return new VcpuExit.Shutdown($"triple fault: {history}");
    }

    /// <summary>SDM vol. 3 table 6-5: a double fault for contributory-contributory and page fault-(contributory or page fault), else the second fault alone.</summary>
    private static GuestEvent Combine(GuestEvent first, GuestEvent second)
    {
        bool secondBad = second.IsContributory || second.Vector == GuestEvent.PageFault;
        bool firstPf = first.Kind == GuestEventKind.Exception && first.Vector == GuestEvent.PageFault;
        if ((first.IsContributory && second.IsContributory) || (firstPf && secondBad))
            return GuestEvent.Fault(GuestEvent.DoubleFault, 0);
        return second;
    }

    private static GuestPageWalker.PagingState Paging(in CpuState cpu) =>
        new(cpu.Sregs.Cr0, cpu.Sregs.Cr3, cpu.Sregs.Cr4, cpu.Sregs.Efer);

    private static Failure? TryDeliver(ref CpuState cpu, GuestEvent ev, MemslotSet slots, SoftMmu mmu)
    {
        var s = cpu.Sregs;
        if ((s.Cr0 & ControlBits.Cr0Pe) == 0) return RealMode(ref cpu, ev, slots, mmu);
        if ((cpu.Rflags & FlagVm) != 0) return new Failure(null, "virtual-8086 mode is not supported");
        bool longMode = (s.Efer & ControlBits.EferLma) != 0;
        var paging = Paging(cpu);
        uint idtError = ev.Vector * 8 + 2 + ev.External;
        ulong entrySize = longMode ? 16UL : 8UL;
        if (ev.Vector * entrySize + entrySize - 1 > s.Idt.Limit) return Raise(GuestEvent.GeneralProtection, idtError);
        Span<byte> gate = stackalloc byte[16];
        if (!GuestPageWalker.TryReadLinear(slots, paging, s.Idt.Base + ev.Vector * entrySize, gate[..(int)entrySize]))
            return RaisePageFault(s.Idt.Base + ev.Vector * entrySize, write: false, cpl: 0);
        int type = gate[5] & 0xF;
        int gateDpl = (gate[5] >> 5) & 3;
        bool present = (gate[5] & 0x80) != 0;
        bool validType = longMode ? type is 0xE or 0xF : type is 0x6 or 0x7 or 0xE or 0xF or 0x5;
        if (!validType || (gate[5] & 0x10) != 0) return Raise(GuestEvent.GeneralProtection, idtError);
        int cpl = s.Ss.Dpl; // QEMU keeps the CPL in SS.DPL
        if (ev.Kind == GuestEventKind.Software && gateDpl < cpl) return Raise(GuestEvent.GeneralProtection, idtError);
        if (!present) return Raise(GuestEvent.SegmentNotPresent, idtError);
        if (type == 0x5) return new Failure(null, "task gates are not supported");

        ushort selector = BinaryPrimitives.ReadUInt16LittleEndian(gate[2..]);
        ulong offset = BinaryPrimitives.ReadUInt16LittleEndian(gate) | ((ulong)BinaryPrimitives.ReadUInt16LittleEndian(gate[6..]) << 16);
        if (longMode) offset |= (ulong)BinaryPrimitives.ReadUInt32LittleEndian(gate[8..]) << 32;
        int ist = longMode ? gate[4] & 7 : 0;
        uint selError = (uint)(selector & ~3) + ev.External;
        if ((selector & ~3) == 0) return Raise(GuestEvent.GeneralProtection, ev.External);
        var failure = ReadDescriptor(slots, paging, s, selector, out var code);
        if (failure is not null) return failure;
        bool isCode = code.S && (code.Type & 0x8) != 0;
        if (!isCode || code.Dpl > cpl || (longMode && (!code.L || code.Db))) return Raise(GuestEvent.GeneralProtection, selError);
        if (!code.Present) return Raise(GuestEvent.SegmentNotPresent, selError);
        bool conforming = (code.Type & 0x4) != 0;
        int newCpl = conforming ? cpl : code.Dpl;

        // The stack the handler runs on.
        var ss = s.Ss;
        ulong rsp = cpu.Rsp;
        bool switchStack = newCpl < cpl;
        if (longMode)
        {
            if (ist != 0 || switchStack)
            {
                ulong at = ist != 0 ? 0x24 + (ulong)(ist - 1) * 8 : 4 + (ulong)newCpl * 8;
                if (at + 7 > s.Tr.Limit) return Raise(GuestEvent.InvalidTss, (uint)(s.Tr.Selector & ~3) + ev.External);
                Span<byte> b = stackalloc byte[8];
                if (!GuestPageWalker.TryReadLinear(slots, paging, s.Tr.Base + at, b)) return RaisePageFault(s.Tr.Base + at, false, 0);
                rsp = BinaryPrimitives.ReadUInt64LittleEndian(b);
            }
            if (switchStack) ss = new Segment { Selector = (ushort)newCpl, Dpl = (byte)newCpl };
            rsp &= ~0xFUL;
        }
        else if (switchStack)
        {
            ulong at = 4 + (ulong)newCpl * 8;
            if (at + 5 > s.Tr.Limit) return Raise(GuestEvent.InvalidTss, (uint)(s.Tr.Selector & ~3) + ev.External);
            Span<byte> b = stackalloc byte[6];
            if (!GuestPageWalker.TryReadLinear(slots, paging, s.Tr.Base + at, b)) return RaisePageFault(s.Tr.Base + at, false, 0);
            rsp = BinaryPrimitives.ReadUInt32LittleEndian(b);
            ushort ssSelector = BinaryPrimitives.ReadUInt16LittleEndian(b[4..]);
            uint ssError = (uint)(ssSelector & ~3) + ev.External;
            if ((ssSelector & ~3) == 0 || (ssSelector & 3) != newCpl) return Raise(GuestEvent.InvalidTss, ssError);
            failure = ReadDescriptor(slots, paging, s, ssSelector, out ss);
            if (failure is not null) return failure;
            if (!ss.S || (ss.Type & 0xA) != 0x2 || ss.Dpl != newCpl) return Raise(GuestEvent.InvalidTss, ssError);
            if (!ss.Present) return Raise(GuestEvent.StackFault, ssError);
        }

        // The frame, highest address first.
        int width = longMode ? 8 : type is 0x6 or 0x7 ? 2 : 4;
        ulong returnRip = cpu.Rip;
        Span<ulong> frame = stackalloc ulong[6];
        int n = 0;
        if (longMode || switchStack)
        {
            frame[n++] = s.Ss.Selector;
            frame[n++] = cpu.Rsp;
        }
        frame[n++] = cpu.Rflags;
        frame[n++] = s.Cs.Selector;
        frame[n++] = returnRip;
        if (ev.PushesErrorCode) frame[n++] = ev.ErrorCode;

        bool stack32 = longMode || ss.Db;
        ulong top = longMode ? rsp : stack32 ? rsp & 0xFFFF_FFFF : rsp & 0xFFFF;
        ulong newTop = top - (ulong)(n * width);
        if (!stack32) newTop &= 0xFFFF;
        var bytes = new byte[n * width];
        for (int i = 0; i < n; i++)
        {
            // frame[0] goes highest: at newTop + (n - 1 - i) * width.
            var slot = bytes.AsSpan((n - 1 - i) * width, width);
            if (width == 8) BinaryPrimitives.WriteUInt64LittleEndian(slot, frame[i]);
            else if (width == 4) BinaryPrimitives.WriteUInt32LittleEndian(slot, (uint)frame[i]);
            else BinaryPrimitives.WriteUInt16LittleEndian(slot, (ushort)frame[i]);
        }
        ulong linear = longMode ? newTop : (ss.Base + newTop) & 0xFFFF_FFFF;
        if (!GuestPageWalker.TryWriteLinear(slots, paging, mmu, linear, bytes, out ulong failedAt))
            return RaisePageFault(failedAt, write: true, newCpl);

        ulong flags = cpu.Rflags & ~(FlagTf | FlagNt | FlagRf | FlagVm);
        if (type is 0x6 or 0xE) flags &= ~FlagIf;
        cpu.Rflags = flags;
        cpu.Rsp = longMode || switchStack ? newTop : (cpu.Rsp & ~(stack32 ? 0xFFFF_FFFFUL : 0xFFFFUL)) | newTop;
        cpu.Rip = width == 2 ? offset & 0xFFFF : offset;
        // QEMU keeps the CPL in SS.DPL (hflags are recomputed from it), so SS changes only with the privilege.
        cpu.Sregs = s with
        {
            Cs = code with { Selector = (ushort)((selector & ~3) | newCpl) },
            Ss = switchStack ? ss : s.Ss,
        };
        return null;
    }

    /// <summary>Real mode: the 4-byte IVT entry, a FLAGS/CS/IP frame on SS:SP, IF, TF and AC cleared.</summary>
    private static Failure? RealMode(ref CpuState cpu, GuestEvent ev, MemslotSet slots, SoftMmu mmu)
    {
        var s = cpu.Sregs;
        if (ev.Vector * 4 + 3 > s.Idt.Limit) return Raise(GuestEvent.GeneralProtection, 0);
        var paging = Paging(cpu);
        Span<byte> entry = stackalloc byte[4];
        if (!GuestPageWalker.TryReadLinear(slots, paging, s.Idt.Base + ev.Vector * 4, entry)) return Raise(GuestEvent.GeneralProtection, 0);
        ushort ip = BinaryPrimitives.ReadUInt16LittleEndian(entry);
        ushort cs = BinaryPrimitives.ReadUInt16LittleEndian(entry[2..]);
        Span<byte> frame = stackalloc byte[6];
        BinaryPrimitives.WriteUInt16LittleEndian(frame, (ushort)cpu.Rip);
        BinaryPrimitives.WriteUInt16LittleEndian(frame[2..], s.Cs.Selector);
        BinaryPrimitives.WriteUInt16LittleEndian(frame[4..], (ushort)cpu.Rflags);
        ulong sp = (cpu.Rsp - 6) & 0xFFFF;
        if (!GuestPageWalker.TryWriteLinear(slots, paging, mmu, (s.Ss.Base + sp) & 0xF_FFFF, frame, out _))
            return Raise(GuestEvent.StackFault, 0);
        cpu.Rsp = (cpu.Rsp & ~0xFFFFUL) | sp;
        cpu.Rflags &= ~(FlagIf | FlagTf | FlagAc | FlagRf);
        cpu.Rip = ip;
        cpu.Sregs = s with { Cs = s.Cs with { Selector = cs, Base = (ulong)cs << 4 } };
        return null;
    }

    /// <summary>Reads the GDT or LDT descriptor of <paramref name="selector"/> as a segment; #GP(selector) past the table's limit.</summary>
    private static Failure? ReadDescriptor(MemslotSet slots, in GuestPageWalker.PagingState paging, SpecialRegisters s, ushort selector, out Segment segment)
    {
        segment = default;
        bool local = (selector & 4) != 0;
        ulong tableBase = local ? s.Ldt.Base : s.Gdt.Base;
        ulong limit = local ? s.Ldt.Limit : s.Gdt.Limit;
        ulong at = (ulong)(selector & ~7);
        if ((local && s.Ldt.Unusable) || at + 7 > limit) return Raise(GuestEvent.GeneralProtection, (uint)(selector & ~3));
        Span<byte> d = stackalloc byte[8];
        if (!GuestPageWalker.TryReadLinear(slots, paging, tableBase + at, d)) return RaisePageFault(tableBase + at, false, 0);
        uint lo = BinaryPrimitives.ReadUInt32LittleEndian(d), hi = BinaryPrimitives.ReadUInt32LittleEndian(d[4..]);
        uint segLimit = (lo & 0xFFFF) | (hi & 0xF_0000);
        bool g = (hi & (1 << 23)) != 0;
        if (g) segLimit = (segLimit << 12) | 0xFFF;
        segment = new Segment
        {
            Selector = selector,
            Base = (lo >> 16) | ((hi & 0xFF) << 16) | (hi & 0xFF00_0000),
            Limit = segLimit,
            Type = (byte)(((hi >> 8) & 0xF) | 1), // loading a segment sets its accessed bit
            S = (hi & (1 << 12)) != 0,
            Dpl = (byte)((hi >> 13) & 3),
            Present = (hi & (1 << 15)) != 0,
            Avl = (hi & (1 << 20)) != 0,
            L = (hi & (1 << 21)) != 0,
            Db = (hi & (1 << 22)) != 0,
            G = g,
        };
        if (!segment.S) segment = segment with { Type = (byte)((hi >> 8) & 0xF) };
        return null;
    }

    private static Failure Raise(uint vector, uint errorCode) => new(GuestEvent.Fault(vector, errorCode), null);

    /// <summary>A #PF the delivery itself takes: CR2 is the address, the error code says write and user (P=0: not mapped).</summary>
    private static Failure RaisePageFault(ulong linear, bool write, int cpl) =>
        new(new GuestEvent(GuestEvent.PageFault, GuestEventKind.Exception, (write ? 2u : 0u) | (cpl == 3 ? 4u : 0u), linear), null);
}
