using Actorvisor.Hardware.Apic;

namespace Actorvisor.Hardware.Tests.Apic;

/// <summary>Register semantics, priority selection, EOI and the software-enable rules of the xAPIC model.</summary>
public class LocalApicTests
{
    private static (LocalApic Apic, RecordingInterruptTarget Target) Enabled(int id = 0)
    {
        var target = new RecordingInterruptTarget();
        var apic = new LocalApic(id, target, clock: new FakeApicClock());
        apic.WriteRegister(ApicRegister.Svr, 0x1ff);
        return (apic, target);
    }

    [Fact]
    public void Reset_state_and_plain_registers_read_back_as_the_sdm_says()
    {
        using var apic = new LocalApic(3, new RecordingInterruptTarget(), clock: new FakeApicClock());
        Assert.Equal(3u << 24, apic.ReadRegister(ApicRegister.Id));
        Assert.Equal(0x0005_0014u, apic.ReadRegister(ApicRegister.Version));
        Assert.Equal(0xffu, apic.ReadRegister(ApicRegister.Svr));
        Assert.False(apic.IsSoftwareEnabled);
        Assert.Equal(0xffff_ffffu, apic.ReadRegister(ApicRegister.Dfr));
        foreach (int lvt in new[] { ApicRegister.LvtTimer, ApicRegister.LvtThermal, ApicRegister.LvtPerf, ApicRegister.LvtLint0, ApicRegister.LvtLint1, ApicRegister.LvtError })
            Assert.Equal(0x1_0000u, apic.ReadRegister(lvt));

        apic.WriteRegister(ApicRegister.Id, 0x0700_0000);
        Assert.Equal(7, apic.Id);
        apic.WriteRegister(ApicRegister.Version, 0);          // read-only
        Assert.Equal(0x0005_0014u, apic.ReadRegister(ApicRegister.Version));
        apic.WriteRegister(ApicRegister.Tpr, 0x1234);
        Assert.Equal(0x34u, apic.ReadRegister(ApicRegister.Tpr));
        apic.WriteRegister(ApicRegister.Ppr, 0x99);           // read-only, computed
        Assert.Equal(0x34u, apic.ReadRegister(ApicRegister.Ppr));
        apic.WriteRegister(ApicRegister.Ldr, 0x0512_3456);
        Assert.Equal(0x0500_0000u, apic.ReadRegister(ApicRegister.Ldr));
        apic.WriteRegister(ApicRegister.IcrHigh, 0x0312_3456);
        Assert.Equal(0x0300_0000u, apic.ReadRegister(ApicRegister.IcrHigh));
        apic.WriteRegister(ApicRegister.TimerDivide, 0xff);
        Assert.Equal(0xbu, apic.ReadRegister(ApicRegister.TimerDivide));
        Assert.Equal(0u, apic.ReadRegister(0x3f0));            // reserved
        Assert.Equal(0u, apic.ReadRegister(ApicRegister.Eoi)); // write-only
    }

    [Fact]
    public void A_software_disabled_apic_drops_fixed_interrupts_and_keeps_its_lvts_masked()
    {
        var target = new RecordingInterruptTarget();
        using var apic = new LocalApic(0, target, clock: new FakeApicClock());
        Assert.False(apic.RequestInterrupt(0x40));
        Assert.Equal(1, apic.DroppedWhileDisabled);
        apic.WriteRegister(ApicRegister.LvtTimer, 0x40);            // unmask attempt while disabled
        Assert.Equal(0x1_0040u, apic.ReadRegister(ApicRegister.LvtTimer));

        apic.WriteRegister(ApicRegister.Svr, 0x1ff);
        Assert.True(apic.IsSoftwareEnabled);
        apic.WriteRegister(ApicRegister.LvtTimer, 0x40);
        Assert.Equal(0x40u, apic.ReadRegister(ApicRegister.LvtTimer));
        Assert.True(apic.RequestInterrupt(0x40));
        Assert.Equal([0x40], target.Vectors);

        apic.WriteRegister(ApicRegister.Svr, 0xff);                 // disable again: every LVT masked
        Assert.Equal(0x1_0040u, apic.ReadRegister(ApicRegister.LvtTimer));
    }

    [Fact]
    public void The_highest_vector_above_the_processor_priority_is_delivered_and_eoi_lets_the_next_in()
    {
        var (apic, target) = Enabled();
        using var _ = apic;
        apic.WriteRegister(ApicRegister.Tpr, 0x60);
        Assert.True(apic.RequestInterrupt(0x31));
        Assert.True(apic.RequestInterrupt(0x52));
        Assert.Empty(target.Vectors);                       // classes 3 and 5 are not above TPR class 6
        Assert.True(apic.RequestInterrupt(0x75));
        Assert.Equal([0x75], target.Vectors);
        Assert.Equal(0x70u, apic.ReadRegister(ApicRegister.Ppr));
        Assert.True(apic.RequestInterrupt(0x7a));           // same class as the one in service: waits
        Assert.True(apic.RequestInterrupt(0x91));           // a higher class nests
        Assert.Equal([0x75, 0x91], target.Vectors);
        Assert.True(apic.IsInService(0x75) && apic.IsInService(0x91));
        Assert.True(apic.IsRequested(0x31) && apic.IsRequested(0x52) && apic.IsRequested(0x7a));
        // IRR as the guest reads it: vector v is bit v % 32 of register 0x200 + 0x10 * (v / 32).
        Assert.Equal((1u << (0x52 - 0x40)), apic.ReadRegister(ApicRegister.Irr + 0x20));
        Assert.Equal((1u << (0x75 - 0x60)) | (1u << (0x7a - 0x60)), apic.ReadRegister(ApicRegister.Isr + 0x30) | apic.ReadRegister(ApicRegister.Irr + 0x30));

        apic.WriteRegister(ApicRegister.Eoi, 0);            // retires 0x91, the highest in service
        Assert.False(apic.IsInService(0x91));
        Assert.Equal([0x75, 0x91], target.Vectors);
        apic.WriteRegister(ApicRegister.Eoi, 0);            // retires 0x75: 0x7a (class 7 > TPR class 6) goes
        Assert.Equal([0x75, 0x91, 0x7a], target.Vectors);
        apic.WriteRegister(ApicRegister.Eoi, 0);
        Assert.Equal(0x60u, apic.ReadRegister(ApicRegister.Ppr));
        apic.WriteRegister(ApicRegister.Tpr, 0);            // lowering TPR lets 0x52 in, then 0x31 after its EOI
        Assert.Equal([0x75, 0x91, 0x7a, 0x52], target.Vectors);
        Assert.Equal(0x50u, apic.ReadRegister(ApicRegister.Ppr));
        apic.WriteRegister(ApicRegister.Eoi, 0);
        Assert.Equal([0x75, 0x91, 0x7a, 0x52, 0x31], target.Vectors);
        apic.WriteRegister(ApicRegister.Eoi, 0);
        apic.WriteRegister(ApicRegister.Eoi, 0);            // nothing in service: ignored
        Assert.Equal(5, apic.Eois);
        Assert.Equal(0u, apic.ReadRegister(ApicRegister.Ppr));
        for (int r = 0; r < 8; r++)
        {
            Assert.Equal(0u, apic.ReadRegister(ApicRegister.Irr + 16 * r));
            Assert.Equal(0u, apic.ReadRegister(ApicRegister.Isr + 16 * r));
        }
    }

    [Fact]
    public void A_vector_requested_again_before_delivery_is_delivered_once()
    {
        var (apic, target) = Enabled();
        using var _ = apic;
        apic.WriteRegister(ApicRegister.Tpr, 0xf0);
        apic.RequestInterrupt(0x44);
        apic.RequestInterrupt(0x44);
        Assert.Equal(1, apic.Coalesced);
        apic.WriteRegister(ApicRegister.Tpr, 0);
        Assert.Equal([0x44], target.Vectors);
    }

    [Fact]
    public void Vectors_below_16_are_refused_and_latched_in_esr_by_the_next_esr_write()
    {
        var (apic, target) = Enabled();
        using var _ = apic;
        Assert.False(apic.RequestInterrupt(5));
        Assert.Equal(0u, apic.ReadRegister(ApicRegister.Esr));     // not until ESR is written
        apic.WriteRegister(ApicRegister.Esr, 0);
        Assert.Equal(0x40u, apic.ReadRegister(ApicRegister.Esr));  // receive illegal vector
        apic.WriteRegister(ApicRegister.IcrLow, 0x4_0003);         // self IPI with vector 3
        apic.WriteRegister(ApicRegister.Esr, 0);
        Assert.Equal(0x20u, apic.ReadRegister(ApicRegister.Esr));  // send illegal vector
        apic.WriteRegister(ApicRegister.Esr, 0);
        Assert.Equal(0u, apic.ReadRegister(ApicRegister.Esr));
        Assert.Empty(target.Vectors);
        Assert.Equal(2, apic.IllegalVectors);
    }

    [Fact]
    public void Reset_empties_irr_and_isr_disables_and_stops_the_timer()
    {
        var clock = new FakeApicClock();
        var target = new RecordingInterruptTarget();
        using var apic = new LocalApic(4, target, clock: clock);
        apic.WriteRegister(ApicRegister.Svr, 0x1ff);
        apic.WriteRegister(ApicRegister.Tpr, 0x50);
        apic.RequestInterrupt(0x33);                    // pending
        apic.RequestInterrupt(0x66);                    // in service
        apic.WriteRegister(ApicRegister.LvtTimer, 0x40);
        apic.WriteRegister(ApicRegister.TimerInitialCount, 1000);
        apic.Reset();
        Assert.False(apic.IsRequested(0x33) || apic.IsInService(0x66));
        Assert.False(apic.IsSoftwareEnabled);
        Assert.Equal(0u, apic.ReadRegister(ApicRegister.Tpr));
        Assert.Equal(0x1_0000u, apic.ReadRegister(ApicRegister.LvtTimer));
        Assert.Equal(4, apic.Id);
        clock.Advance(1_000_000);
        Assert.Equal([0x66], target.Vectors);
        Assert.Equal(0, apic.TimerFirings);
    }
}
