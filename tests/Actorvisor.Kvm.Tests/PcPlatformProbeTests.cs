using System.Text;
using System.Text.RegularExpressions;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Kvm;
using Actorvisor.Hardware.Machines;

namespace Actorvisor.Kvm.Tests;

/// <summary>
/// The project's own multiboot test kernel (<see cref="PcPlatformProbe"/>) on KVM's PC platform: fw_cfg, the LAPIC timer,
/// COM1's THR-empty and received-data interrupts routed through the IOAPIC, console input, and the 0xf4 exit.
/// </summary>
public sealed partial class PcPlatformProbeTests
{
    private const string Line = "probe-input-line\n";
    private const ulong MemoryBytes = 64UL << 20;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task The_probe_kernel_reads_fw_cfg_counts_timer_ticks_and_ioapic_routed_uart_interrupts_and_exits_0(int vcpus)
    {
        var image = PcPlatformProbe.Image();
        var console = new CapturingConsoleSink();
        using var accel = KvmAccelerator.Open();
        using var machine = Machine.Create(accel, new MachineSpec { Image = image, MemoryBytes = MemoryBytes, VcpuCount = vcpus }, console);
        // The line is sent once the guest says it waits for it (then the received-data interrupt is what wakes it).
        var feeder = console.WaitForTextAsync(PcPlatformProbe.WaitingForInput, TimeSpan.FromSeconds(120))
            .ContinueWith(t => t.IsCompletedSuccessfully ? machine.SendConsoleInput(Encoding.ASCII.GetBytes(Line)) : -1, TaskScheduler.Default);
        // Measured: a few seconds nested (10 timer ticks of 10 ms plus ~100 exits); the bound only catches a lost interrupt.
        var result = await Task.Run(() => machine.Run(TimeSpan.FromSeconds(120)));
        // Where a run that never ends stopped (seen once under load, waiting for the line): whether the line was fed,
        // what the UART still holds and how often it raised its interrupt.
        Assert.True(result.Outcome == MachineOutcome.Exited,
            $"{result}; line fed: {(feeder.IsCompletedSuccessfully ? $"{feeder.Result} bytes" : "not yet")}; UART input pending {machine.Serial.PendingInput}, "
            + $"interrupts raised {machine.Serial.InterruptsRaised}; console:\n{result.ConsoleOutput}");
        Assert.Equal(Line.Length, await feeder);
        var rx = ReceiveCount().Match(result.ConsoleOutput);
        Assert.True(rx.Success, result.ConsoleOutput);
        int receiveInterrupts = Convert.ToInt32(rx.Groups[1].Value, 16);
        Assert.InRange(receiveInterrupts, 1, Line.Length);
        Assert.Equal(PcPlatformProbe.ExpectedConsole(vcpus, MemoryBytes, Line, receiveInterrupts), result.ConsoleOutput);
        Assert.Equal(0, result.ResultCode);
        // The UART raised its line once per THR-empty interrupt and at least once for the received data.
        Assert.InRange(machine.Serial.InterruptsRaised, PcPlatformProbe.ThrEmptyInterrupts + 1, PcPlatformProbe.ThrEmptyInterrupts + Line.Length);
    }

    [GeneratedRegex("received_data_interrupts=([0-9a-f]{8})")]
    private static partial Regex ReceiveCount();
}
