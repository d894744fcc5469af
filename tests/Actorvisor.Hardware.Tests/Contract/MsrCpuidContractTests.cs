using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Tests.Machines;
using Actorvisor.Hardware.X86;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Hardware.Tests.Contract;

/// <summary>RDMSR/WRMSR and CPUID as the guest sees them, alike on every accelerator.</summary>
public abstract partial class AcceleratorContractTests
{
    [AcceleratorTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void AnUnknownMsrRaisesGeneralProtectionInTheGuest(bool longMode)
    {
        using var m = NewMachine();
        ulong end = m.Load(longMode ? 64 : 32, a => { a.mov(ecx, 0x4b56_4dff); a.rdmsr(); a.hlt(); });
        EnterModeWithIdt(m, longMode);

        var frame = RunToHandler(m, 13, longMode, 2);
        Assert.Equal(0UL, frame[0]);
        Assert.Equal(end - 1 - 2, frame[1]); // on the rdmsr
    }

    [AcceleratorTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void WritingAnUnknownMsrRaisesGeneralProtectionInTheGuest(bool longMode)
    {
        using var m = NewMachine();
        ulong end = m.Load(longMode ? 64 : 32, a => { a.mov(ecx, 0xDEAD_0001); a.xor(eax, eax); a.xor(edx, edx); a.wrmsr(); a.hlt(); });
        EnterModeWithIdt(m, longMode);

        var frame = RunToHandler(m, 13, longMode, 2);
        Assert.Equal(0UL, frame[0]);
        Assert.Equal(end - 1 - 2, frame[1]); // on the wrmsr
    }

    [AcceleratorFact]
    public void MsrsRoundTripThroughWrmsrAndRdmsr()
    {
        using var m = NewMachine();
        m.Load(64, a =>
        {
            // LSTAR: implemented by every CPU model.
            a.mov(ecx, 0xC000_0082); a.mov(eax, 0x89AB_CDEF); a.mov(edx, 0x0123_4567); a.wrmsr();
            a.xor(eax, eax); a.xor(edx, edx); a.rdmsr(); a.mov(r8, rax); a.mov(r9, rdx);
            // MSR_KVM_ASYNC_PF_EN written 0 (protocol off), read back.
            a.mov(ecx, KvmParavirtMsrs.AsyncPfEnable); a.xor(eax, eax); a.xor(edx, edx); a.wrmsr();
            a.mov(eax, 0xFFFF_FFFF); a.mov(edx, 0xFFFF_FFFF); a.rdmsr(); a.mov(r10, rax); a.mov(r11, rdx);
            a.hlt();
        });
        EnterModeWithIdt(m, longMode: true);

        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(new RecordingExitHandler()));
        var r = m.Cpu.GetRegisters();
        Assert.NotEqual(HandlerFor(13) + 1, r.Rip);
        Assert.Equal((0x89AB_CDEFUL, 0x0123_4567UL), (r.R8, r.R9));
        Assert.Equal((0UL, 0UL), (r.R10, r.R11));
    }

    [AcceleratorFact]
    public void CpuidPresentsKvmsSignatureAndAsyncPageFaultFeatures()
    {
        using var m = NewMachine();
        m.Load(64, a =>
        {
            a.mov(eax, KvmParavirtCpuid.SignatureLeaf); a.xor(ecx, ecx); a.cpuid();
            a.mov(r8, rax); a.mov(r9, rbx); a.mov(r10, rcx); a.mov(r11, rdx);
            a.mov(eax, KvmParavirtCpuid.FeaturesLeaf); a.xor(ecx, ecx); a.cpuid();
            a.mov(r12, rax);
            a.mov(eax, 0); a.cpuid(); // a standard leaf still answers: the vendor string
            a.mov(r13, rbx);
            a.hlt();
        });
        m.EnterLongMode(TestMachine.CodeAddress);

        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(new RecordingExitHandler()));
        var r = m.Cpu.GetRegisters();
        Span<byte> signature = stackalloc byte[12];
        BitConverter.TryWriteBytes(signature, (uint)r.R9);
        BitConverter.TryWriteBytes(signature[4..], (uint)r.R10);
        BitConverter.TryWriteBytes(signature[8..], (uint)r.R11);
        Assert.Equal("KVMKVMKVM\0\0\0", System.Text.Encoding.ASCII.GetString(signature));
        Assert.True(r.R8 >= KvmParavirtCpuid.FeaturesLeaf, $"max KVM leaf 0x{r.R8:x}");
        Assert.Equal((ulong)KvmParavirtCpuid.FeatureAsyncPf, r.R12 & KvmParavirtCpuid.FeatureAsyncPf);
        Assert.Equal((ulong)KvmParavirtCpuid.FeatureAsyncPfInt, r.R12 & KvmParavirtCpuid.FeatureAsyncPfInt);
        Assert.NotEqual(0UL, r.R13);
    }

    /// <summary>
    /// Long mode only in the contract: in 32-bit protected mode the emulator under the KVM harness (QEMU TCG's
    /// get_ss_esp_from_tss) aborts on the busy TSS type KVM requires; SoftAcceleratorTests covers that mode.
    /// </summary>
    [AcceleratorFact]
    public void AnInterruptFromUserModeRunsOnTheTssStack() => InterruptFromUserMode(NewMachine(), longMode: true);

    /// <summary>User code does INT 0x80 through a DPL 3 gate: the handler runs at CPL 0 on the TSS's stack and the frame holds the user SS:ESP.</summary>
    internal static void InterruptFromUserMode(TestMachine machine, bool longMode)
    {
        using var m = machine;
        const ulong tss = 0x6000, kernelStack = 0x7000;
        ulong end = m.Load(longMode ? 64 : 32, a => { a.@int(0x80); a.hlt(); });
        EnterModeWithIdt(m, longMode);
        int size = longMode ? 16 : 8;
        m.Ram.Write<byte>(IdtAddress + 0x80 * (ulong)size + 5, 0xEE); // DPL 3: user code may INT 0x80
        if (longMode) MakePageTablesUserAccessible(m);
        // GDT: the machine's four entries, then user code32 (0x20), user data (0x28), user code64 (0x30), TSS (0x38).
        ulong gdt = TestMachine.GdtAddress;
        m.Ram.Write(gdt + 0x20, 0x00CF_FB00_0000_FFFFUL);
        m.Ram.Write(gdt + 0x28, 0x00CF_F300_0000_FFFFUL);
        m.Ram.Write(gdt + 0x30, 0x00AF_FB00_0000_FFFFUL);
        m.Ram.Write(gdt + 0x38, 0x67UL | (tss << 16) | (0x8BUL << 40));
        m.Ram.Write(gdt + 0x40, 0UL);
        m.Ram.Write<uint>(tss + 4, (uint)kernelStack); // ESP0 / low half of RSP0
        if (longMode) m.Ram.Write<uint>(tss + 8, 0); else m.Ram.Write<uint>(tss + 8, 0x10); // RSP0 high / SS0
        var s = m.Cpu.GetSpecialRegisters();
        var userData = new Segment { Selector = 0x2B, Limit = 0xFFFF_FFFF, Type = 0x3, Present = true, S = true, Dpl = 3, Db = true, G = true };
        m.Cpu.SetSpecialRegisters(s with
        {
            Gdt = new DescriptorTable(gdt, 0x47),
            Cs = longMode
                ? new Segment { Selector = 0x33, Limit = 0xFFFF_FFFF, Type = 0xB, Present = true, S = true, Dpl = 3, L = true, G = true }
                : new Segment { Selector = 0x23, Limit = 0xFFFF_FFFF, Type = 0xB, Present = true, S = true, Dpl = 3, Db = true, G = true },
            Ss = userData, Ds = userData, Es = userData,
            Tr = new Segment { Selector = 0x38, Base = tss, Limit = 0x67, Type = 0xB, Present = true },
        });

        var frame = RunToHandler(m, 0x80, longMode, 5);
        Assert.Equal(kernelStack - 5 * (longMode ? 8UL : 4UL), m.Cpu.GetRegisters().Rsp);
        Assert.Equal(end - 1, frame[0]);
        Assert.Equal(longMode ? 0x33UL : 0x23UL, frame[1] & 0xFFFF);
        Assert.Equal(StackTop, frame[3]);
        Assert.Equal(0x2BUL, frame[4] & 0xFFFF);
        var after = m.Cpu.GetSpecialRegisters();
        Assert.Equal(CodeSelector(longMode), after.Cs.Selector);
        Assert.Equal(0, after.Cs.Dpl);
        if (!longMode) Assert.Equal(0x10, after.Ss.Selector);
    }

    [AcceleratorFact]
    public void AnIstGateSwitchesStacksEvenWithoutAPrivilegeChange()
    {
        using var m = NewMachine();
        const ulong tss = 0x6000, istStack = 0x7800;
        ulong end = m.Load(64, a => { a.@int(0x81); a.hlt(); });
        EnterModeWithIdt(m, longMode: true);
        m.Ram.Write<byte>(IdtAddress + 0x81 * 16 + 4, 1); // IST 1
        m.Ram.Write(tss + 0x24, istStack);
        ulong gdt = TestMachine.GdtAddress;
        m.Ram.Write(gdt + 0x20, 0x67UL | (tss << 16) | (0x8BUL << 40));
        m.Ram.Write(gdt + 0x28, 0UL);
        m.Cpu.SetSpecialRegisters(m.Cpu.GetSpecialRegisters() with
        {
            Gdt = new DescriptorTable(gdt, 0x2F),
            Tr = new Segment { Selector = 0x20, Base = tss, Limit = 0x67, Type = 0xB, Present = true },
        });

        var frame = RunToHandler(m, 0x81, true, 5);
        Assert.Equal(istStack - 5 * 8, m.Cpu.GetRegisters().Rsp);
        Assert.Equal(end - 1, frame[0]);
        Assert.Equal(StackTop, frame[3]);
    }

    /// <summary>Sets the user bit in every entry of the machine's identity map (PML4, PDPT, the four page directories).</summary>
    internal static void MakePageTablesUserAccessible(TestMachine m)
    {
        for (ulong at = TestMachine.PageTables; at < TestMachine.PageTables + 0x6000; at += 8)
        {
            ulong e = m.Ram.Read<ulong>(at);
            if ((e & 1) != 0) m.Ram.Write(at, e | 4);
        }
    }
}
