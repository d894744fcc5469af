using Actorvisor.Hardware.Apic;

namespace Actorvisor.Hardware.Tests.Apic;

/// <summary>The LVT timer: one-shot and periodic, divide configuration, current count, masking, late host timers.</summary>
public class LocalApicTimerTests
{
    private static (LocalApic Apic, RecordingInterruptTarget Target, FakeApicClock Clock) Enabled()
    {
        var clock = new FakeApicClock();
        var target = new RecordingInterruptTarget();
        var apic = new LocalApic(0, target, clock: clock);
        apic.WriteRegister(ApicRegister.Svr, 0x1ff);
        target.EoiOn = apic;   // the guest's handler EOIs each tick
        return (apic, target, clock);
    }

    [Theory]
    [InlineData(0b0000, 2)]
    [InlineData(0b0001, 4)]
    [InlineData(0b0010, 8)]
    [InlineData(0b0011, 16)]
    [InlineData(0b1000, 32)]
    [InlineData(0b1001, 64)]
    [InlineData(0b1010, 128)]
    [InlineData(0b1011, 1)]
    public void Divide_configuration_selects_the_divisor(uint config, int divisor)
    {
        var (apic, target, clock) = Enabled();
        using var _ = apic;
        apic.WriteRegister(ApicRegister.TimerDivide, config);
        Assert.Equal(divisor, apic.TimerDivisor);
        apic.WriteRegister(ApicRegister.LvtTimer, 0x40);
        apic.WriteRegister(ApicRegister.TimerInitialCount, 100);
        clock.Advance(100L * divisor - 1);
        Assert.Empty(target.Vectors);
        Assert.Equal(1u, apic.ReadRegister(ApicRegister.TimerCurrentCount));
        clock.Advance(1);
        Assert.Equal([0x40], target.Vectors);
    }

    [Fact]
    public void A_one_shot_timer_counts_down_fires_once_and_reads_zero()
    {
        var (apic, target, clock) = Enabled();
        using var _ = apic;
        apic.WriteRegister(ApicRegister.TimerDivide, 0b0011);    // 16
        apic.WriteRegister(ApicRegister.LvtTimer, 0x40);
        Assert.Equal(ApicTimerMode.OneShot, apic.TimerMode);
        apic.WriteRegister(ApicRegister.TimerInitialCount, 1000);
        Assert.Equal(1000u, apic.ReadRegister(ApicRegister.TimerInitialCount));
        Assert.Equal(1000u, apic.ReadRegister(ApicRegister.TimerCurrentCount));
        clock.Advance(8000);                                      // half of 1000 x 16 ns
        Assert.Equal(500u, apic.ReadRegister(ApicRegister.TimerCurrentCount));
        Assert.Empty(target.Vectors);
        clock.Advance(8000);
        Assert.Equal([0x40], target.Vectors);
        Assert.Equal(0u, apic.ReadRegister(ApicRegister.TimerCurrentCount));
        clock.Advance(1_000_000);
        Assert.Equal([0x40], target.Vectors);
        Assert.Equal(1, apic.TimerFirings);
        Assert.Equal(0, clock.PendingAlarms);
    }

    [Fact]
    public void A_periodic_timer_reloads_until_stopped_and_merges_periods_a_late_host_timer_missed()
    {
        var (apic, target, clock) = Enabled();
        using var _ = apic;
        apic.WriteRegister(ApicRegister.TimerDivide, 0b1011);     // 1
        apic.WriteRegister(ApicRegister.LvtTimer, 0x2_0041);
        Assert.Equal(ApicTimerMode.Periodic, apic.TimerMode);
        apic.WriteRegister(ApicRegister.TimerInitialCount, 1000);
        clock.Advance(1000);
        Assert.Equal([0x41], target.Vectors);
        clock.Advance(250);
        Assert.Equal(750u, apic.ReadRegister(ApicRegister.TimerCurrentCount));   // reloaded
        clock.Advance(2750);
        Assert.Equal(4, target.Vectors.Length);                   // at 1000, 2000, 3000, 4000
        Assert.Equal(4, apic.TimerFirings);

        clock.AdvanceLate(3500);                                  // the host timer runs 3.5 periods late
        Assert.Equal(5, target.Vectors.Length);                   // one interrupt for the three periods
        Assert.Equal(7, apic.TimerFirings);
        Assert.Equal(2, apic.Coalesced);
        Assert.Equal(500u, apic.ReadRegister(ApicRegister.TimerCurrentCount));   // back on the original grid
        clock.Advance(500);
        Assert.Equal(6, target.Vectors.Length);

        apic.WriteRegister(ApicRegister.TimerInitialCount, 0);    // stops it
        clock.Advance(10_000);
        Assert.Equal(6, target.Vectors.Length);
        Assert.Equal(0u, apic.ReadRegister(ApicRegister.TimerCurrentCount));
    }

    [Fact]
    public void A_masked_timer_counts_and_expires_without_an_interrupt_and_a_rewrite_restarts_it()
    {
        var (apic, target, clock) = Enabled();
        using var _ = apic;
        apic.WriteRegister(ApicRegister.TimerDivide, 0b1011);
        apic.WriteRegister(ApicRegister.LvtTimer, 0x1_0040);
        apic.WriteRegister(ApicRegister.TimerInitialCount, 100);
        clock.Advance(100);
        Assert.Equal(1, apic.TimerFirings);
        Assert.Empty(target.Vectors);

        apic.WriteRegister(ApicRegister.LvtTimer, 0x40);
        apic.WriteRegister(ApicRegister.TimerInitialCount, 100);
        clock.Advance(60);
        apic.WriteRegister(ApicRegister.TimerInitialCount, 100);  // restart: the first alarm is stale
        clock.Advance(60);
        Assert.Empty(target.Vectors);
        Assert.Equal(40u, apic.ReadRegister(ApicRegister.TimerCurrentCount));
        clock.Advance(40);
        Assert.Equal([0x40], target.Vectors);
    }

    [Fact]
    public async Task The_host_clock_drives_a_periodic_tick()
    {
        var target = new RecordingInterruptTarget();
        using var apic = new LocalApic(0, target);   // SystemApicClock
        target.EoiOn = apic;
        apic.WriteRegister(ApicRegister.Svr, 0x1ff);
        apic.WriteRegister(ApicRegister.TimerDivide, 0b1011);
        apic.WriteRegister(ApicRegister.LvtTimer, 0x2_0050);
        var started = System.Diagnostics.Stopwatch.StartNew();
        apic.WriteRegister(ApicRegister.TimerInitialCount, 1_000_000);   // 1 ms
        // Measured: 5 ticks in about 6 ms; the bound only turns a dead timer into a failure.
        await target.WhenCount(5).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(started.Elapsed >= TimeSpan.FromMilliseconds(5), $"5 periods of 1 ms took {started.Elapsed.TotalMilliseconds} ms");
        Assert.All(target.Vectors, v => Assert.Equal(0x50, v));
        apic.WriteRegister(ApicRegister.TimerInitialCount, 0);
    }
}
