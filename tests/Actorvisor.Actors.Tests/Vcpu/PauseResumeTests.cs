using Actorvisor.Actors.Tests.Support;
using Actorvisor.Actors.Vcpu;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.X86;
using Xunit.Abstractions;

namespace Actorvisor.Actors.Tests.Vcpu;

/// <summary>Pause/resume and register access of vCPUs that spin in guest code (no exits to ride on).</summary>
public class PauseResumeTests(ITestOutputHelper output) : VmTestKit(output)
{
    [Fact]
    public void A_spinning_guest_pauses_its_registers_hold_still_while_paused_and_it_runs_on_after_resume()
    {
        var node = StartNode();
        var vm = CreateVm(node, "spin", TestGuests.Spin());
        Start(vm);
        AwaitSpinning(vm);

        Assert.Equal(VmState.Paused, Ask<VmTransitioned>(vm, PauseVm.Instance).State);
        var first = Ask<VcpuRegisters>(vm, new GetRegisters(0));
        var second = Ask<VcpuRegisters>(vm, new GetRegisters(0));
        Assert.True(first.Registers.Rbx > 0, "the guest counted before the pause");
        Assert.Equal(first.Registers.Rbx, second.Registers.Rbx); // parked: nothing moves
        Assert.Equal(first.Registers.Rip, second.Registers.Rip);
        Assert.InRange(first.Registers.Rip, GuestLayout.ImageBase, GuestLayout.ImageBase + 0x40);

        Assert.Equal(VmState.Running, Ask<VmTransitioned>(vm, ResumeVm.Instance).State);
        Assert.Equal(VmState.Paused, Ask<VmTransitioned>(vm, PauseVm.Instance).State);
        var later = Ask<VcpuRegisters>(vm, new GetRegisters(0));
        Assert.True(later.Registers.Rbx > first.Registers.Rbx, $"the guest ran on after resume (RBX {first.Registers.Rbx} -> {later.Registers.Rbx})");
    }

    [Fact]
    public void Registers_set_while_paused_take_effect_when_the_guest_resumes()
    {
        var node = StartNode();
        var vm = CreateVm(node, "release", TestGuests.Spin());
        Start(vm);
        AwaitSpinning(vm); // past the prologue that clears ECX
        Ask<VmTransitioned>(vm, PauseVm.Instance);
        var regs = Ask<VcpuRegisters>(vm, new GetRegisters(0)).Registers;
        regs.Rcx = TestGuests.ReleaseMagic;
        Assert.Equal(new VcpuRegistersSet(0), Ask<VcpuRegistersSet>(vm, new SetRegisters(0, regs)));
        Assert.Equal(TestGuests.ReleaseMagic, Ask<VcpuRegisters>(vm, new GetRegisters(0)).Registers.Rcx);

        Ask<VmTransitioned>(vm, ResumeVm.Instance);
        Assert.Equal(new VmOutcome.Exited(TestGuests.ReleasedResultCode), ExpectEnded(vm));
    }

    [Fact]
    public void Registers_can_be_read_from_a_running_vcpu_by_kicking_it_out_and_it_keeps_running()
    {
        var node = StartNode();
        var vm = CreateVm(node, "peek", TestGuests.Spin());
        Start(vm);
        var a = Ask<VcpuRegisters>(vm, new GetRegisters(0)).Registers.Rbx;
        AwaitAssert(() => Assert.True(Ask<VcpuRegisters>(vm, new GetRegisters(0)).Registers.Rbx > a, "still running after a read"), Long);
        Assert.Equal(VmState.Running, Ask<VmDescription>(vm, GetVmDescription.Instance).State);
    }

    [Fact]
    public void A_tlb_flush_is_acknowledged_by_every_vcpu_of_a_running_two_vcpu_guest()
    {
        var node = StartNode();
        var vm = CreateVm(node, "flush", TestGuests.Spin(vcpus: 2));
        Start(vm);
        AwaitSpinning(vm, 0);
        AwaitSpinning(vm, 1);
        Assert.Equal(new TlbFlushed("flush", 2), Ask<TlbFlushed>(vm, FlushTlb.Instance));
        // Both vCPUs are still spinning afterwards.
        Ask<VmTransitioned>(vm, PauseVm.Instance);
        var before = new[] { Ask<VcpuRegisters>(vm, new GetRegisters(0)).Registers.Rbx, Ask<VcpuRegisters>(vm, new GetRegisters(1)).Registers.Rbx };
        Ask<VmTransitioned>(vm, ResumeVm.Instance);
        Ask<VmTransitioned>(vm, PauseVm.Instance);
        Assert.True(Ask<VcpuRegisters>(vm, new GetRegisters(0)).Registers.Rbx > before[0]);
        Assert.True(Ask<VcpuRegisters>(vm, new GetRegisters(1)).Registers.Rbx > before[1]);
    }

    [Fact]
    public void A_request_for_a_vcpu_that_does_not_exist_names_the_valid_range()
    {
        var node = StartNode();
        var vm = CreateVm(node, "one-cpu", TestGuests.Spin());
        var error = Assert.IsType<VmError.UnknownVcpu>(Ask<VmRequestFailed>(vm, new GetRegisters(3)).Error);
        Assert.Equal("vcpu 3 does not exist (the VM has 1 vCPUs: 0..0)", error.Message);
    }

    [Fact]
    public void Many_pause_resume_round_trips_keep_the_guest_consistent()
    {
        var node = StartNode();
        var vm = CreateVm(node, "flip", TestGuests.Spin(vcpus: 2));
        Start(vm);
        AwaitSpinning(vm);
        ulong last = 0;
        var vmRoundTrips = new List<double>();
        for (int i = 0; i < 300; i++)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            Ask<VmTransitioned>(vm, PauseVm.Instance);
            if (i % 50 == 0)
            {
                var rbx = Ask<VcpuRegisters>(vm, new GetRegisters(0)).Registers.Rbx;
                Assert.True(rbx >= last);
                last = rbx;
                clock.Restart();
            }
            Ask<VmTransitioned>(vm, ResumeVm.Instance);
            vmRoundTrips.Add(clock.Elapsed.TotalMicroseconds);
        }

        Assert.Equal(new VmOutcome.StoppedOnRequest(), Ask<VmStopped>(vm, StopVm.Instance).Outcome);

        // One vCPU through its own actor (what the VmActor fans out to), acknowledged by its thread. One
        // spinning vCPU, so that the guest does not take every core from the actors it is measured through.
        var solo = CreateVm(node, "solo", TestGuests.Spin());
        Start(solo);
        AwaitSpinning(solo);
        var vcpu = Sys.ActorSelection(solo.Vm.Path / "vcpu-0").ResolveOne(Long).Result;
        var vcpuRoundTrips = new List<double>();
        for (int i = 0; i < 1000; i++)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            vcpu.Tell(PauseVcpu.Instance);
            ExpectMsg<VcpuPaused>();
            vcpu.Tell(ResumeVcpu.Instance);
            ExpectMsg<VcpuResumed>();
            vcpuRoundTrips.Add(clock.Elapsed.TotalMicroseconds);
        }
        output.WriteLine($"VM pause+resume ({TestAccelerator.Kind}, 2 vCPUs): {Percentiles(vmRoundTrips)}");
        output.WriteLine($"vCPU pause+resume ({TestAccelerator.Kind}, 1 spinning vCPU): {Percentiles(vcpuRoundTrips)}");
        Assert.Equal(new VmOutcome.StoppedOnRequest(), Ask<VmStopped>(solo, StopVm.Instance).Outcome);
    }

    private static string Percentiles(List<double> us)
    {
        var sorted = us.Order().ToArray();
        double P(double q) => sorted[(int)Math.Min(sorted.Length - 1, Math.Ceiling(q * sorted.Length) - 1)];
        return $"p50 {P(0.50):0} us, p99 {P(0.99):0} us, max {sorted[^1]:0} us over {sorted.Length}";
    }
}
