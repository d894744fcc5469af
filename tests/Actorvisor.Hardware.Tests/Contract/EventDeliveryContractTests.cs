using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Tests.Machines;
using Actorvisor.Hardware.X86;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Hardware.Tests.Contract;

/// <summary>
/// Exception and interrupt delivery through the guest's IDT, in 32-bit protected mode and in long mode, on every
/// accelerator: each vector's gate leads to a one-byte handler (hlt) at its own address, so the vCPU halts in the
/// handler of the vector it took and the frame the CPU pushed is on the stack for the test to read.
/// </summary>
public abstract partial class AcceleratorContractTests
{
    internal const ulong IdtAddress = 0x3000;
    private const ulong HandlerBase = 0x4000;
    internal const ulong StackTop = 0x8000;

    internal static ulong HandlerFor(uint vector) => HandlerBase + vector * 0x10;

    /// <summary>Enters flat protected or long mode at the code address with an IDT whose 256 interrupt gates each lead to a hlt.</summary>
    internal static void EnterModeWithIdt(TestMachine m, bool longMode)
    {
        if (longMode) m.EnterLongMode(TestMachine.CodeAddress);
        else m.EnterProtectedMode(TestMachine.CodeAddress);
        ushort selector = longMode ? (ushort)0x18 : (ushort)0x08;
        int size = longMode ? 16 : 8;
        for (uint v = 0; v < 256; v++)
        {
            ulong handler = HandlerFor(v);
            ulong at = IdtAddress + v * (ulong)size;
            // offset 15:0, selector, (IST 0), type 0xE interrupt gate, DPL 0, present, offset 31:16 (63:32 in long mode)
            ulong low = (handler & 0xFFFF) | ((ulong)selector << 16) | (0x8EUL << 40) | ((handler >> 16 & 0xFFFF) << 48);
            m.Ram.Write(at, low);
            if (longMode) m.Ram.Write(at + 8, handler >> 32);
            m.Ram.Write<byte>(handler, 0xF4);
        }
        m.Cpu.SetSpecialRegisters(m.Cpu.GetSpecialRegisters() with { Idt = new DescriptorTable(IdtAddress, (ushort)(256 * size - 1)) });
    }

    /// <summary>Runs until the vCPU halts in <paramref name="vector"/>'s handler; returns the pushed frame, lowest address first.</summary>
    internal static ulong[] RunToHandler(TestMachine m, uint vector, bool longMode, int words, RecordingExitHandler? handler = null)
    {
        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(handler ?? new RecordingExitHandler()));
        var r = m.Cpu.GetRegisters();
        Assert.Equal(HandlerFor(vector) + 1, r.Rip);
        var frame = new ulong[words];
        for (int i = 0; i < words; i++)
            frame[i] = longMode ? m.Ram.Read<ulong>(r.Rsp + (ulong)i * 8) : m.Ram.Read<uint>(r.Rsp + (ulong)i * 4);
        return frame;
    }

    internal static ulong CodeSelector(bool longMode) => longMode ? 0x18UL : 0x08UL;

    [AcceleratorTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void InvalidOpcodeIsDeliveredToItsGateWithRipOnTheFaultingInstruction(bool longMode)
    {
        using var m = NewMachine();
        m.Load(longMode ? 64 : 32, a => { a.nop(); a.ud2(); });
        EnterModeWithIdt(m, longMode);

        var frame = RunToHandler(m, 6, longMode, 3);
        Assert.Equal(TestMachine.CodeAddress + 1, frame[0]);
        Assert.Equal(CodeSelector(longMode), frame[1] & 0xFFFF);
        Assert.Equal(0x2UL, frame[2] & 0x2); // RFLAGS bit 1 is always set
    }

    [AcceleratorTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void GeneralProtectionFaultPushesItsErrorCode(bool longMode)
    {
        using var m = NewMachine();
        ulong end = m.Load(longMode ? 64 : 32, a => { a.mov(ax, 0x1234); a.mov(ds, ax); a.hlt(); }); // selector beyond the GDT limit
        EnterModeWithIdt(m, longMode);

        var frame = RunToHandler(m, 13, longMode, 3);
        Assert.Equal(0x1234UL, frame[0]);
        Assert.Equal(end - 1 - 3, frame[1]); // the mov ds (66 8e d8), not after it
        Assert.Equal(CodeSelector(longMode), frame[2] & 0xFFFF);
    }

    [AcceleratorTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void PageFaultSetsCr2AndPushesTheErrorCode(bool longMode)
    {
        using var m = NewMachine();
        const ulong pd32 = 0x16000;
        ulong missing = longMode ? 0x1_2345_6008UL : 0x40_0010UL; // above the identity map / in a not-present 4 MiB page
        ulong end = m.Load(longMode ? 64 : 32, a =>
        {
            if (longMode) { a.mov(rax, missing); a.mov(__qword_ptr[rax], rbx); }
            else { a.mov(eax, (uint)missing); a.mov(__dword_ptr[eax], ebx); }
            a.hlt();
        });
        EnterModeWithIdt(m, longMode);
        if (!longMode)
        {
            // 32-bit paging, one 4 MiB identity page at 0; the next 4 MiB not present.
            m.Ram.Write<uint>(pd32, 0x83);
            m.Cpu.SetSpecialRegisters(m.Cpu.GetSpecialRegisters() with
            {
                Cr0 = ControlBits.Cr0Pe | ControlBits.Cr0Et | ControlBits.Cr0Pg, Cr3 = pd32, Cr4 = 1 << 4, // PSE
            });
        }

        var frame = RunToHandler(m, 14, longMode, 2);
        Assert.Equal(0x2UL, frame[0]); // not present, write, supervisor
        Assert.Equal(end - 1 - (longMode ? 3UL : 2UL), frame[1]);
        Assert.Equal(missing, m.Cpu.GetSpecialRegisters().Cr2);
    }

    [AcceleratorTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void SoftwareInterruptReturnsAfterTheIntInstructionWithoutAnErrorCode(bool longMode)
    {
        using var m = NewMachine();
        ulong end = m.Load(longMode ? 64 : 32, a => { a.mov(ecx, 7); a.@int(0x40); a.hlt(); });
        EnterModeWithIdt(m, longMode);

        var frame = RunToHandler(m, 0x40, longMode, 2);
        Assert.Equal(end - 1, frame[0]);
        Assert.Equal(CodeSelector(longMode), frame[1] & 0xFFFF);
        Assert.Equal(7UL, m.Cpu.GetRegisters().Rcx);
        ulong rsp = m.Cpu.GetRegisters().Rsp;
        Assert.Equal(StackTop - (longMode ? 5UL * 8 : 3UL * 4), rsp); // long mode always pushes SS:RSP
    }

    [AcceleratorTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void ExternalInterruptWaitsForStiAndItsShadow(bool longMode)
    {
        using var m = NewMachine();
        void Prologue(Iced.Intel.Assembler a)
        {
            a.mov(eax, 1);
            a.@out(0x10, al);
            a.sti();
            a.mov(ebx, 2); // in the STI shadow: runs before the interrupt
        }
        ulong hltAt = m.Load(longMode ? 64 : 32, Prologue);
        m.Load(longMode ? 64 : 32, a => { a.hlt(); a.hlt(); }, hltAt);
        EnterModeWithIdt(m, longMode); // RFLAGS 0x2: IF clear
        m.Cpu.QueueExternalInterrupt(0x30);
        var handler = new RecordingExitHandler();

        var frame = RunToHandler(m, 0x30, longMode, 3, handler);
        Assert.Single(handler.Ports); // the OUT ran with IF=0, before delivery
        Assert.Equal(2UL, m.Cpu.GetRegisters().Rbx);
        Assert.Equal(hltAt, frame[0]);
        Assert.Equal(CodeSelector(longMode), frame[1] & 0xFFFF);
        Assert.Equal(1UL << 9, frame[2] & (1UL << 9)); // IF was set in the interrupted code
        Assert.Equal(0UL, m.Cpu.GetRegisters().Rflags & (1UL << 9)); // an interrupt gate clears it
    }

    [AcceleratorFact]
    public void RealModeSoftwareInterruptGoesThroughTheIvt()
    {
        using var m = NewMachine();
        ulong end = m.Load(16, a => { a.@int(0x21); a.hlt(); });
        m.Load(16, a => a.hlt(), 0x5000);
        m.EnterRealMode(TestMachine.CodeAddress);
        m.Ram.Write<uint>(0x21 * 4, 0x0400_1000); // 0400:1000 = linear 0x5000
        m.Cpu.SetSpecialRegisters(m.Cpu.GetSpecialRegisters() with { Idt = new DescriptorTable(0, 0x3FF) });

        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(new RecordingExitHandler()));
        var r = m.Cpu.GetRegisters();
        Assert.Equal(0x1001UL, r.Rip);
        Assert.Equal(0x400, m.Cpu.GetSpecialRegisters().Cs.Selector);
        Assert.Equal(StackTop - 6, r.Rsp);
        Assert.Equal((ushort)(end - 1), m.Ram.Read<ushort>(r.Rsp));
    }

    /// <summary>
    /// Reads the IDT and GDT pages and writes the stack page before the fault, so that delivering it needs no
    /// nested-paging exit on KVM: KVM would then re-inject the event being delivered, and the emulated SVM under
    /// the KVM harness (QEMU TCG) delivers a fault raised while delivering an injected event on its own instead of
    /// combining the two into #DF (hardware combines them; so does the software accelerator).
    /// </summary>
    private static void TouchDeliveryPages(Iced.Intel.Assembler a, bool longMode)
    {
        if (longMode)
        {
            a.mov(rax, __qword_ptr[IdtAddress]); a.mov(rax, __qword_ptr[TestMachine.GdtAddress]); a.push(rax); a.pop(rax);
        }
        else
        {
            a.mov(eax, __dword_ptr[IdtAddress]); a.mov(eax, __dword_ptr[TestMachine.GdtAddress]); a.push(eax); a.pop(eax);
        }
    }

    [AcceleratorTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void AFaultWhileDeliveringAFaultIsADoubleFault(bool longMode)
    {
        using var m = NewMachine();
        // #DE, whose gate is not present: delivering it raises #NP, a contributory fault on a contributory one.
        m.Load(longMode ? 64 : 32, a => { TouchDeliveryPages(a, longMode); a.xor(ecx, ecx); a.div(ecx); a.hlt(); });
        EnterModeWithIdt(m, longMode);
        m.Ram.Write<byte>(IdtAddress + 0 * (longMode ? 16UL : 8UL) + 5, 0x0E);

        var frame = RunToHandler(m, 8, longMode, 1);
        Assert.Equal(0UL, frame[0]);
    }

    [AcceleratorTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void AFaultWhileDeliveringADoubleFaultShutsDown(bool longMode)
    {
        using var m = NewMachine();
        m.Load(longMode ? 64 : 32, a => { TouchDeliveryPages(a, longMode); a.xor(ecx, ecx); a.div(ecx); a.hlt(); });
        EnterModeWithIdt(m, longMode);
        ulong size = longMode ? 16UL : 8UL;
        m.Ram.Write<byte>(IdtAddress + 0 * size + 5, 0x0E);
        m.Ram.Write<byte>(IdtAddress + 8 * size + 5, 0x0E);

        Assert.IsType<VcpuExit.Shutdown>(m.Cpu.Run(new RecordingExitHandler()));
    }

    [AcceleratorTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void AnInterruptQueuedFromAnotherThreadReachesASpinningGuestWithoutRunReturning(bool longMode)
    {
        using var m = NewMachine();
        ulong spinAt = 0;
        m.Load(longMode ? 64 : 32, a =>
        {
            a.sti();
            a.@out(0xD0, al);
            var spin = a.CreateLabel();
            a.Label(ref spin);
            a.jmp(spin);
        });
        spinAt = TestMachine.CodeAddress + 1 + 2;
        EnterModeWithIdt(m, longMode);
        using var running = new ManualResetEventSlim();
        var handler = new RecordingExitHandler { OnPort = p => { if (p.Port == 0xD0) running.Set(); } };

        var run = Task.Factory.StartNew(() => RunToHandler(m, 0x31, longMode, 1, handler), TaskCreationOptions.LongRunning);
        Assert.True(running.Wait(Patience));
        m.Cpu.QueueExternalInterrupt(0x31);
        Assert.True(run.Wait(Patience), "the interrupt did not reach the guest");
        Assert.Equal(spinAt, run.Result[0]);
    }
}
