using System.Diagnostics;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Soft;
using Actorvisor.Hardware.Tests.Contract;
using Actorvisor.Hardware.X86;
using Xunit.Abstractions;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Hardware.Tests.Soft;

/// <summary>
/// Port-I/O exit rates: the bare-Unicorn floor (<see cref="SoftRawExitLoop"/>) and the same guest loop
/// through <see cref="SoftVcpu"/> with a trivial handler, best of three alternating rounds (the build
/// machine is shared). Prints both for information; what it asserts is that every exit of every round reached
/// the handler. The rates themselves are bench figures (`actorvisor bench exits`: exits.raw_per_s,
/// exits.runtime_per_s), where a busy machine does not turn them into a test failure.
/// </summary>
public sealed class SoftExitRateTests(ITestOutputHelper output)
{
    private const int Exits = 2_000_000;

    /// <summary>Counts OUTs and continues: the cheapest possible exit handler.</summary>
    private sealed class CountingHandler : IExitHandler
    {
        public long Outs;
        public ExitAction OnPortIo(ushort port, IoDirection direction, Span<byte> data)
        {
            Outs++;
            return ExitAction.Continue;
        }
        public ExitAction OnMmio(ulong gpa, bool isWrite, Span<byte> data) => ExitAction.Continue;
    }

    [Fact]
    public void Every_out_of_the_rate_loop_reaches_the_handler_and_the_rates_are_printed()
    {
        double raw = 0, runtime = 0;

        using var accelerator = new SoftAccelerator();
        using var m = new TestMachine(accelerator);
        m.Load(32, a =>
        {
            var loop = a.CreateLabel();
            a.Label(ref loop);
            a.@out(dx, al);
            a.loop(loop);
            a.hlt();
        });
        var handler = new CountingHandler();
        // Warm-up run: builds the engine and translates the loop.
        m.EnterProtectedMode(TestMachine.CodeAddress);
        m.Cpu.SetRegisters(m.Cpu.GetRegisters() with { Rcx = 1000, Rdx = 0x80 });
        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(handler));

        for (int round = 0; round < 3; round++)
        {
            raw = Math.Max(raw, SoftRawExitLoop.Measure(Exits));
            m.Cpu.SetRegisters(m.Cpu.GetRegisters() with { Rip = TestMachine.CodeAddress, Rcx = Exits });
            handler.Outs = 0;
            var watch = Stopwatch.StartNew();
            Assert.Equal(VcpuExit.Halted, m.Cpu.Run(handler));
            watch.Stop();
            Assert.Equal(Exits, handler.Outs);
            runtime = Math.Max(runtime, Exits / watch.Elapsed.TotalSeconds);
        }

        output.WriteLine($"raw Unicorn OUT loop: {raw / 1e6:F1} M exits/s ({1e9 / raw:F1} ns/exit)");
        output.WriteLine($"SoftVcpu + handler:   {runtime / 1e6:F1} M exits/s ({1e9 / runtime:F1} ns/exit), {raw / runtime:F2}x raw");
    }
}
