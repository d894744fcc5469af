using Actorvisor.Hardware.Accel;
using System.Diagnostics.Metrics;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Metrics;
using Actorvisor.Hardware.Soft;

namespace Actorvisor.Hardware.Tests.Metrics;

/// <summary>The exit counts of a machine's vCPUs, as the Actorvisor.Hardware meter exports them.</summary>
public sealed class HardwareMeterTests
{
    [Fact]
    public void A_listener_collects_the_exits_a_guest_made_under_its_vm_name()
    {
        const int writes = 2500;
        string vm = $"meter-test-{Guid.NewGuid():N}";
        using var accelerator = new SoftAccelerator();
        using var machine = Machine.Create(accelerator, new MachineSpec { Image = GuestLibrary.PortIoLoop(writes), CountExitsAs = vm });
        var result = machine.Run(TimeSpan.FromMinutes(2));
        Assert.True(result.Succeeded, result.ToString());

        var collected = new Dictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == HardwareMeter.Name && instrument.Name == "actorvisor.vcpu.exits") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            string? kind = null;
            bool mine = false;
            foreach (var tag in tags)
            {
                if (tag.Key == "vm") mine = Equals(tag.Value, vm);
                if (tag.Key == "kind") kind = (string?)tag.Value;
            }
            if (mine && kind is not null) collected[kind] = value;
        });
        listener.Start();
        listener.RecordObservableInstruments();

        // Every OUT of the loop, the console's UART accesses and the debug-exit write; the bus saw the same accesses.
        var console = machine.Bus.UnknownPortWrites + machine.Bus.UnknownPortReads;
        Assert.True(collected["port_io"] >= writes + 1, $"port_io {collected["port_io"]} for {writes} OUTs");
        Assert.True(collected["port_io"] >= console, $"port_io {collected["port_io"]}, unclaimed accesses {console}");
        Assert.Equal(0, collected["mmio"]);
        Assert.Equal(0, collected["other"]);
        var counters = HardwareMeter.ExportedVcpus.Single(c => c.Vm == vm);
        Assert.Equal(collected["port_io"], counters.PortIo);
        Assert.True(counters.GuestSeconds > 0);
    }

    [Fact]
    public void Ended_vcpus_stay_exported_for_the_retention_then_go()
    {
        using var accelerator = new SoftAccelerator();
        using var vm = accelerator.CreateVm();
        string name = $"retained-{Guid.NewGuid():N}";
        var cpu = vm.CreateVcpu(0);
        var counters = new VcpuExitCounters(name, cpu);
        Assert.Contains(counters, HardwareMeter.ExportedVcpus);
        counters.Dispose();
        Assert.Contains(counters, HardwareMeter.ExportedVcpus);
        var retention = HardwareMeter.RetainEnded;
        try
        {
            HardwareMeter.RetainEnded = TimeSpan.Zero;
            // TickCount64 moves in steps of a few ms: wait for the next tick rather than a fixed time.
            long ended = Environment.TickCount64;
            SpinWait.SpinUntil(() => Environment.TickCount64 > ended);
            Assert.DoesNotContain(counters, HardwareMeter.ExportedVcpus);
        }
        finally
        {
            HardwareMeter.RetainEnded = retention;
        }
    }

    [Fact]
    public void A_vms_current_run_is_its_latest_while_every_run_stays_exported()
    {
        using var accelerator = new SoftAccelerator();
        using var vm = accelerator.CreateVm();
        string name = $"rerun-{Guid.NewGuid():N}";
        var cpu = vm.CreateVcpu(0);
        long firstRun = HardwareMeter.NewRun();
        var first = new VcpuExitCounters(name, cpu, firstRun);
        first.CountReturn(VcpuExit.Halted, 1);
        first.CountReturn(VcpuExit.Halted, 1);
        Assert.Equal(2, HardwareMeter.CurrentRuns().Where(c => c.Vm == name).Sum(c => c.Total));
        // The run ends (retained for export); the VM runs again: a new run counting from zero.
        first.Dispose();
        Assert.Equal([first], HardwareMeter.CurrentRuns().Where(c => c.Vm == name));
        long secondRun = HardwareMeter.NewRun();
        Assert.True(secondRun > firstRun);
        using var second = new VcpuExitCounters(name, cpu, secondRun);
        second.CountReturn(VcpuExit.Halted, 1);
        Assert.Equal([second], HardwareMeter.CurrentRuns().Where(c => c.Vm == name));
        Assert.Contains(first, HardwareMeter.ExportedVcpus);
        Assert.Equal(1, HardwareMeter.CurrentRuns().Where(c => c.Vm == name).Sum(c => c.Total));
    }
}
