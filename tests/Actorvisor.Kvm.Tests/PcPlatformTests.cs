using System.Text;
using Actorvisor.Hardware.Kvm;
using Actorvisor.Hardware.Kvm.Abi;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Kvm.Tests;

/// <summary>The PC platform on real KVM: the in-kernel chipset, the per-vCPU preparation, the APs' wait for INIT-SIPI, CPUID.</summary>
public sealed class PcPlatformTests : IDisposable
{
    private readonly KvmAccelerator _accel = KvmAccelerator.Open();
    private readonly KvmVirtualMachine _vm;

    public PcPlatformTests() => _vm = (KvmVirtualMachine)_accel.CreateVm();

    public void Dispose()
    {
        _vm.Dispose();
        _accel.Dispose();
    }

    [Fact]
    public void The_boot_processor_runs_and_application_processors_wait_for_init_sipi()
    {
        _vm.CreatePcChipset();
        var bsp = (KvmVirtualCpu)_vm.CreateVcpu(0);
        var ap = (KvmVirtualCpu)_vm.CreateVcpu(1);
        _vm.PreparePcVcpu(bsp, bootProcessor: true);
        _vm.PreparePcVcpu(ap, bootProcessor: false);
        Assert.Equal(KvmMpState.Runnable, bsp.Fd.GetMpState());
        Assert.Equal(KvmMpState.Uninitialized, ap.Fd.GetMpState());
    }

    [Fact]
    public void Lint0_is_extint_and_lint1_nmi_and_both_unmasked()
    {
        _vm.CreatePcChipset();
        var vcpu = (KvmVirtualCpu)_vm.CreateVcpu(0);
        _vm.PreparePcVcpu(vcpu, bootProcessor: true);
        var lapic = vcpu.Fd.GetLapic();
        uint lint0 = lapic.Read(KvmLapicState.LvtLint0), lint1 = lapic.Read(KvmLapicState.LvtLint1);
        Assert.True((lint0 >> 8 & 7) == 7, $"LINT0 0x{lint0:x}: delivery mode should be ExtINT (7)");
        Assert.True((lint1 >> 8 & 7) == 4, $"LINT1 0x{lint1:x}: delivery mode should be NMI (4)");
        Assert.Equal(0u, (lint0 | lint1) & 0x1_0000);
    }

    [Fact]
    public void The_boot_msrs_and_fpu_state_are_set()
    {
        _vm.CreatePcChipset();
        var vcpu = (KvmVirtualCpu)_vm.CreateVcpu(0);
        _vm.PreparePcVcpu(vcpu, bootProcessor: true);
        var values = vcpu.Fd.GetMsrs([BootMsrs.MiscEnable, BootMsrs.MtrrDefType, BootMsrs.Lstar]);
        Assert.Equal(BootMsrs.MiscEnableFastStrings, values[0] & BootMsrs.MiscEnableFastStrings);
        Assert.Equal(BootMsrs.MtrrEnabledWriteBack, values[1]);
        Assert.Equal(0UL, values[2]);
        var fpu = vcpu.Fd.GetFpu();
        Assert.Equal(KvmVirtualMachine.FpuControlWordAtReset, fpu.Fcw);
        // MXCSR is not asserted: KVM_SET_FPU does not copy it into the guest's FPU state (seen on 6.1: it reads back 0).
    }

    [Fact]
    public void Every_vcpu_sees_the_kvm_paravirtual_leaves_and_its_own_apic_id()
    {
        _vm.CreatePcChipset();
        var vcpu = (KvmVirtualCpu)_vm.CreateVcpu(1);
        var cpuid = vcpu.Fd.GetCpuid2();
        var signature = Assert.Single(cpuid, e => e.Function == 0x4000_0000);
        var text = new byte[12];
        BitConverter.TryWriteBytes(text.AsSpan(0), signature.Ebx);
        BitConverter.TryWriteBytes(text.AsSpan(4), signature.Ecx);
        BitConverter.TryWriteBytes(text.AsSpan(8), signature.Edx);
        Assert.Equal("KVMKVMKVM\0\0\0", Encoding.ASCII.GetString(text));
        Assert.True(signature.Eax >= 0x4000_0001, $"max PV leaf 0x{signature.Eax:x}");
        var features = Assert.Single(cpuid, e => e.Function == 0x4000_0001);
        Assert.True((features.Eax & (1u << 3)) != 0, $"KVM_FEATURE_CLOCKSOURCE2 missing from 0x{features.Eax:x}");
        var leaf1 = Assert.Single(cpuid, e => e.Function == 1);
        Assert.Equal(1u, leaf1.Ebx >> 24);
        Assert.True((leaf1.Ecx & KvmVirtualMachine.Leaf1EcxHypervisor) != 0, $"leaf 1 ECX 0x{leaf1.Ecx:x}: the hypervisor bit is what makes Linux read the KVM leaves");
    }

    [Fact]
    public void With_the_in_kernel_lapic_the_tsc_deadline_timer_is_offered_where_kvm_emulates_it()
    {
        _vm.CreatePcChipset();
        var vcpu = (KvmVirtualCpu)_vm.CreateVcpu(0);
        var leaf1 = Assert.Single(vcpu.Fd.GetCpuid2(), e => e.Function == 1);
        bool emulated = _vm.Fd.CheckExtension(KvmCapability.TscDeadlineTimer) > 0;
        Assert.Equal(emulated, (leaf1.Ecx & KvmVirtualMachine.Leaf1EcxTscDeadline) != 0);
        Assert.True(emulated, "every KVM with an in-kernel LAPIC since 3.x emulates the TSC-deadline timer");
    }

    [Fact]
    public void The_chipset_must_come_before_the_vcpus_and_lines_need_it()
    {
        Assert.Throws<InvalidOperationException>(() => _vm.SetIrqLevel(4, true));
        _vm.CreateVcpu(0);
        Assert.Throws<InvalidOperationException>(() => _vm.CreatePcChipset());
    }

    [Fact]
    public void Interrupt_lines_take_levels_once_the_chipset_exists()
    {
        _vm.CreatePcChipset();
        Assert.True(_vm.HasPcChipset);
        _vm.SetIrqLevel(4, true);
        _vm.SetIrqLevel(4, false);
    }
}
