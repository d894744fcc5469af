using Actorvisor.Hardware.Apic;

namespace Actorvisor.Hardware.Tests.Apic;

/// <summary>IPIs between vCPUs' APICs through the bus, and the MMIO page that reaches the accessing vCPU's APIC.</summary>
public class LocalApicBusTests
{
    private static (LocalApicBus Bus, LocalApic[] Apics, RecordingInterruptTarget[] Targets) ThreeCpus()
    {
        var bus = new LocalApicBus();
        var targets = Enumerable.Range(0, 3).Select(_ => new RecordingInterruptTarget()).ToArray();
        var apics = Enumerable.Range(0, 3).Select(i => new LocalApic(i, targets[i], bus, new FakeApicClock())).ToArray();
        for (int i = 0; i < 3; i++)
        {
            apics[i].WriteRegister(ApicRegister.Svr, 0x1ff);
            targets[i].EoiOn = apics[i];
        }
        return (bus, apics, targets);
    }

    private static void Send(LocalApic from, uint low, uint destination = 0)
    {
        from.WriteRegister(ApicRegister.IcrHigh, destination << 24);
        from.WriteRegister(ApicRegister.IcrLow, low);
    }

    [Fact]
    public void Fixed_ipis_reach_the_apics_the_destination_or_shorthand_names()
    {
        var (bus, apics, targets) = ThreeCpus();
        Send(apics[0], 0x50, destination: 2);                       // physical, APIC 2
        Assert.Equal([[], [], [0x50]], targets.Select(t => t.Vectors));
        Assert.Equal(0u, apics[0].ReadRegister(ApicRegister.IcrLow) & (1u << 12));   // delivery status idle
        Send(apics[1], 0x51, destination: 0xff);                    // physical broadcast
        Send(apics[1], 0x4_0052);                                   // self
        Send(apics[2], 0xc_0053);                                   // all excluding self
        Send(apics[0], 0x8_0054);                                   // all including self
        Assert.Equal([0x51, 0x53, 0x54], targets[0].Vectors);
        Assert.Equal([0x51, 0x52, 0x53, 0x54], targets[1].Vectors);
        Assert.Equal([0x50, 0x51, 0x54], targets[2].Vectors);

        apics[1].WriteRegister(ApicRegister.Ldr, 0x02u << 24);
        apics[2].WriteRegister(ApicRegister.Ldr, 0x04u << 24);
        Send(apics[0], 0x860, destination: 0x06);                   // logical (bit 11), flat: APICs 1 and 2
        Assert.Equal(0x60, targets[1].Vectors[^1]);
        Assert.Equal(0x60, targets[2].Vectors[^1]);
        Assert.DoesNotContain(0x60, targets[0].Vectors);

        apics[1].WriteRegister(ApicRegister.Tpr, 0x30);
        Send(apics[0], 0x961, destination: 0x06);                   // lowest priority, logical: APIC 2 (PPR 0 < 0x30)
        Assert.Equal(0x61, targets[2].Vectors[^1]);
        Assert.DoesNotContain(0x61, targets[1].Vectors);

        long sent = apics[0].IpisSent;
        Send(apics[0], 0x500, destination: 1);                      // INIT: not modelled, not sent
        Assert.Equal(sent, apics[0].IpisSent);
        Send(apics[0], 0x70, destination: 9);                       // nobody has ID 9
        Assert.Equal(1, bus.UndeliveredIpis);
        Assert.Throws<ArgumentException>(() => new LocalApic(2, new RecordingInterruptTarget(), bus));
    }

    [Fact]
    public async Task Concurrent_ipis_are_each_delivered_or_merged_into_a_pending_one_and_none_stays_pending()
    {
        var (_, apics, targets) = ThreeCpus();
        const int perSender = 2000;
        var senders = Enumerable.Range(0, 2).Select(s => Task.Run(() =>
        {
            for (int n = 0; n < perSender; n++) Send(apics[s], (uint)(0x40 + 16 * s + n % 16), destination: 2);
        })).ToArray();
        await Task.WhenAll(senders).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(2 * perSender, apics[2].Delivered + apics[2].Coalesced);
        Assert.Equal(apics[2].Delivered, targets[2].Vectors.Length);
        Assert.Equal(apics[2].Delivered, apics[2].Eois);
        for (int r = 0; r < 8; r++)
        {
            Assert.Equal(0u, apics[2].ReadRegister(ApicRegister.Irr + 16 * r));
            Assert.Equal(0u, apics[2].ReadRegister(ApicRegister.Isr + 16 * r));
        }
    }

    [Fact]
    public async Task The_mmio_page_reaches_the_apic_of_the_accessing_thread()
    {
        var (bus, apics, targets) = ThreeCpus();
        var window = new ApicMmioWindow(bus);
        var data = new byte[4];

        window.OnMmio(ApicRegister.Id, false, data);                // no APIC bound to the test thread
        Assert.Equal(0xffff_ffffu, BitConverter.ToUInt32(data));
        Assert.Equal(1, window.UnboundAccesses);

        await Task.Run(() =>
        {
            using var binding = bus.BindCurrentThread(apics[1]);
            Assert.Same(apics[1], bus.CurrentThreadApic);
            window.OnMmio(ApicRegister.Version, false, data);
            Assert.Equal(LocalApic.VersionValue, BitConverter.ToUInt32(data));
            var one = new byte[1];
            window.OnMmio(ApicRegister.Id + 3, false, one);         // the top byte of the ID register
            Assert.Equal(1, one[0]);
            window.OnMmio(ApicRegister.Tpr, true, BitConverter.GetBytes(0x20u));
            Assert.Equal(0x20u, apics[1].ReadRegister(ApicRegister.Tpr));
            window.OnMmio(ApicRegister.Tpr, true, new byte[] { 0x40, 0 });   // a 16-bit write: dropped
            Assert.Equal(0x20u, apics[1].ReadRegister(ApicRegister.Tpr));
            window.OnMmio(ApicRegister.IcrHigh, true, BitConverter.GetBytes(0u));
            window.OnMmio(ApicRegister.IcrLow, true, BitConverter.GetBytes(0x55u));   // fixed IPI to APIC 0
        });
        Assert.Equal(1, window.DroppedAccesses);
        Assert.Equal([0x55], targets[0].Vectors);
        Assert.Null(bus.CurrentThreadApic);
        Assert.Equal(0u, apics[0].ReadRegister(ApicRegister.Tpr));
    }
}
