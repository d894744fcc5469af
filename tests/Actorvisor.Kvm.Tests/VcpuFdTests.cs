using System.Text;
using Actorvisor.Hardware.Kvm;
using Actorvisor.Hardware.Kvm.Abi;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Kvm.Tests;

/// <summary>vCPU ioctls on the real /dev/kvm: KVM_RUN exits as kvm_run reports them, and register round trips.</summary>
public sealed class VcpuFdTests
{
    [Fact]
    public void Out_exits_with_port_size_and_data_then_hlt_exits()
    {
        using var guest = new RealModeGuest(a =>
        {
            a.mov(dx, 0x3f8);
            a.mov(al, (byte)'K');
            a.@out(dx, al);
            a.hlt();
        });

        Assert.Equal(KvmExitReason.Io, guest.Vcpu.Run());
        var io = guest.Vcpu.RunState.Io;
        Assert.Equal(KvmRunIo.DirectionOut, io.Direction);
        Assert.Equal(0x3f8, io.Port);
        Assert.Equal(1, io.Size);
        Assert.Equal(1u, io.Count);
        Assert.Equal((byte)'K', guest.Vcpu.IoData[0]);

        Assert.Equal(KvmExitReason.Hlt, guest.Vcpu.Run());
    }

    [Fact]
    public void In_data_written_into_kvm_run_reaches_the_guest()
    {
        using var guest = new RealModeGuest(a =>
        {
            a.mov(dx, 0x60);
            a.@in(ax, dx);
            a.mov(dx, 0x61);
            a.@out(dx, ax);
            a.hlt();
        });

        Assert.Equal(KvmExitReason.Io, guest.Vcpu.Run());
        Assert.Equal(KvmRunIo.DirectionIn, guest.Vcpu.RunState.Io.Direction);
        Assert.Equal(2, guest.Vcpu.RunState.Io.Size);
        guest.Vcpu.IoData[0] = 0x34;
        guest.Vcpu.IoData[1] = 0x12;

        Assert.Equal(KvmExitReason.Io, guest.Vcpu.Run());
        Assert.Equal(0x61, guest.Vcpu.RunState.Io.Port);
        Assert.Equal(new byte[] { 0x34, 0x12 }, guest.Vcpu.IoData.ToArray());
        Assert.Equal(KvmExitReason.Hlt, guest.Vcpu.Run());
    }

    [Fact]
    public void Rep_outsb_delivers_every_byte_with_count_and_data_offset()
    {
        const string message = "HELLO";
        const ushort text = 0x3000;
        using var guest = new RealModeGuest(a =>
        {
            a.mov(si, text);  // DS = 0: the text is at linear 0x3000
            a.mov(cx, (short)message.Length);
            a.mov(dx, 0x3f8);
            a.cld();
            a.rep.outsb();
            a.hlt();
        });
        guest.Ram.Write(text, Encoding.ASCII.GetBytes(message));

        var received = new List<byte>();
        uint items = 0;
        KvmExitReason reason;
        while ((reason = guest.Vcpu.Run()) == KvmExitReason.Io)
        {
            var io = guest.Vcpu.RunState.Io;
            Assert.Equal(0x3f8, io.Port);
            Assert.Equal(KvmRunIo.DirectionOut, io.Direction);
            items += io.Count;
            received.AddRange(guest.Vcpu.IoData.ToArray()); // size * count bytes at data_offset
        }
        Assert.Equal(KvmExitReason.Hlt, reason);
        Assert.Equal((uint)message.Length, items);
        Assert.Equal(message, Encoding.ASCII.GetString(received.ToArray()));
    }

    [Fact]
    public void Rep_insb_is_one_exit_with_count_items_filled_by_userspace()
    {
        const ushort buffer = 0x3000;
        using var guest = new RealModeGuest(a =>
        {
            a.xor(ax, ax);
            a.mov(es, ax);
            a.mov(di, buffer);
            a.mov(cx, 4);
            a.mov(dx, 0x3f8);
            a.cld();
            a.rep.insb();
            a.hlt();
        });

        var reason = guest.Vcpu.Run();
        Assert.True(reason == KvmExitReason.Io, ExitDescription.Of(guest.Vcpu, reason));
        var io = guest.Vcpu.RunState.Io;
        Assert.Equal(KvmRunIo.DirectionIn, io.Direction);
        // emulate.c pio_in_emulated reads ahead min(rcx, bytes left in the page, 1024 / size) items in one exit.
        Assert.Equal(4u, io.Count);
        "WXYZ"u8.CopyTo(guest.Vcpu.IoData);
        Assert.Equal(KvmExitReason.Hlt, guest.Vcpu.Run());
        Assert.Equal("WXYZ"u8.ToArray(), guest.Ram.Span(buffer, 4).ToArray());
    }

    [Fact]
    public void Access_to_unbacked_memory_exits_as_mmio_write_and_read()
    {
        using var guest = new RealModeGuest(a =>
        {
            a.mov(ax, 0xd000);       // DS base 0xd0000: no memslot there
            a.mov(ds, ax);
            a.mov(__word_ptr[0x10], 0xbeef);
            a.mov(ax, __word_ptr[0x20]);
            a.mov(dx, 0x80);
            a.@out(dx, ax);
            a.hlt();
        });

        Assert.Equal(KvmExitReason.Mmio, guest.Vcpu.Run());
        var write = guest.Vcpu.RunState.Mmio;
        Assert.Equal(0xd0010ul, write.PhysAddr);
        Assert.Equal(1, write.IsWrite);
        Assert.Equal(new byte[] { 0xef, 0xbe }, guest.Vcpu.MmioData.ToArray());

        Assert.Equal(KvmExitReason.Mmio, guest.Vcpu.Run());
        var read = guest.Vcpu.RunState.Mmio;
        Assert.Equal(0xd0020ul, read.PhysAddr);
        Assert.Equal(0, read.IsWrite);
        Assert.Equal(2u, read.Len);
        guest.Vcpu.MmioData[0] = 0xcd;
        guest.Vcpu.MmioData[1] = 0xab;

        Assert.Equal(KvmExitReason.Io, guest.Vcpu.Run());
        Assert.Equal(new byte[] { 0xcd, 0xab }, guest.Vcpu.IoData.ToArray());
        Assert.Equal(KvmExitReason.Hlt, guest.Vcpu.Run());
    }

    [Fact]
    public void Triple_fault_exits_as_shutdown()
    {
        using var guest = new RealModeGuest(a => a.int3());
        var sregs = guest.Vcpu.GetSregs();
        sregs.Idt = new KvmDtable { Base = 0, Limit = 0 }; // no vector fits: #BP -> #GP -> #DF -> triple fault
        guest.Vcpu.SetSregs(sregs);

        var reason = guest.Vcpu.Run();
        Assert.True(reason == KvmExitReason.Shutdown, $"expected SHUTDOWN, got {ExitDescription.Of(guest.Vcpu, reason)}");
    }

    [Fact]
    public void Triple_fault_in_protected_mode_exits_as_shutdown()
    {
        using var guest = new RealModeGuest(a => { });
        guest.Ram.Write(RealModeGuest.CodeAddress, GuestCode.Assemble(32, RealModeGuest.CodeAddress, a => a.int3()));
        var sregs = guest.Vcpu.GetSregs();
        var code = new KvmSegment { Base = 0, Limit = 0xffff_ffff, Selector = 0x8, Type = 0xb, Present = 1, S = 1, Db = 1, G = 1 };
        var data = code with { Selector = 0x10, Type = 0x3 };
        sregs.Cs = code; sregs.Ds = data; sregs.Es = data; sregs.Ss = data;
        sregs.Cr0 |= 1;
        sregs.Idt = new KvmDtable { Base = 0, Limit = 0 };
        guest.Vcpu.SetSregs(sregs);
        var reason = guest.Vcpu.Run();
        Assert.True(reason == KvmExitReason.Shutdown, $"expected SHUTDOWN, got {ExitDescription.Of(guest.Vcpu, reason)}");
    }

    [Fact]
    public void Registers_round_trip_through_the_kernel()
    {
        using var guest = new RealModeGuest(a => a.hlt());
        var regs = guest.Vcpu.GetRegs();
        regs.Rax = 0x1111_2222_3333_4444;
        regs.R15 = 0xf00d;
        regs.Rsp = 0x8000;
        regs.Rflags = 0x202;
        guest.Vcpu.SetRegs(regs);
        var back = guest.Vcpu.GetRegs();
        Assert.Equal(regs.Rax, back.Rax);
        Assert.Equal(regs.R15, back.R15);
        Assert.Equal(regs.Rsp, back.Rsp);
        Assert.Equal(regs.Rflags, back.Rflags);

        var sregs = guest.Vcpu.GetSregs();
        sregs.Ds.Selector = 0x1234;
        sregs.Ds.Base = 0x12340;
        sregs.Gdt = new KvmDtable { Base = 0x5000, Limit = 0x27 };
        sregs.Cr2 = 0xdead_b000;
        guest.Vcpu.SetSregs(sregs);
        var sback = guest.Vcpu.GetSregs();
        Assert.Equal(0x1234, sback.Ds.Selector);
        Assert.Equal(0x12340ul, sback.Ds.Base);
        Assert.Equal(0x5000ul, sback.Gdt.Base);
        Assert.Equal(0x27, sback.Gdt.Limit);
        Assert.Equal(0xdead_b000ul, sback.Cr2);
    }

    [Fact]
    public void Immediate_exit_returns_eintr_without_entering_the_guest()
    {
        using var guest = new RealModeGuest(a => a.hlt());
        guest.Vcpu.ImmediateExit = true;
        Assert.Equal(KvmExitReason.Intr, guest.Vcpu.Run());
        Assert.Equal(RealModeGuest.CodeAddress, guest.Vcpu.GetRegs().Rip);
        guest.Vcpu.ImmediateExit = false;
        Assert.Equal(KvmExitReason.Hlt, guest.Vcpu.Run());
    }

    [Fact]
    public void Set_cpuid2_is_what_get_cpuid2_returns()
    {
        using var guest = new RealModeGuest(a => a.hlt());
        var supported = guest.Kvm.GetSupportedCpuid();
        guest.Vcpu.SetCpuid2(supported);
        var set = guest.Vcpu.GetCpuid2();
        Assert.Equal(supported.Length, set.Length);
        Assert.Equal(supported.Single(e => e.Function == 0).Ebx, set.Single(e => e.Function == 0).Ebx);
    }
}
