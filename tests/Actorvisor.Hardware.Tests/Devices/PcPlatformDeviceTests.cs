using System.Buffers.Binary;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices;

namespace Actorvisor.Hardware.Tests.Devices;

/// <summary>The PC platform's small devices on a bus: i8042, CMOS/RTC, PCI configuration ports, port 0x80, fw_cfg.</summary>
public sealed class PcPlatformDeviceTests
{
    private readonly DeviceBus _bus = new();

    private byte[] In(ushort port, int size = 1)
    {
        var b = new byte[size];
        _bus.OnPortIo(port, IoDirection.In, b);
        return b;
    }

    private ExitAction Out(ushort port, params byte[] data) => _bus.OnPortIo(port, IoDirection.Out, data);

    [Fact]
    public void I8042_reset_command_stops_the_vcpu_and_records_the_reset()
    {
        var i8042 = new I8042Controller();
        _bus.RegisterPorts(I8042Controller.DataPort, I8042Controller.PortCount, i8042);
        Assert.Equal(0, In(0x64)[0] & 0x02); // input buffer empty: the kernel's kb_wait ends at once
        Assert.Equal(ExitAction.Continue, Out(0x64, 0x20)); // read command byte
        Assert.Equal(0x01, In(0x64)[0] & 0x01);
        Assert.Equal(0x45, In(0x60)[0]);
        Assert.Equal(0, In(0x64)[0] & 0x01);
        Out(0x64, 0xaa);
        Assert.Equal(0x55, In(0x60)[0]);
        Assert.False(i8042.ResetRequested);
        Assert.Equal(ExitAction.Stop, Out(0x64, I8042Controller.ResetCommand));
        Assert.True(i8042.ResetRequested);
    }

    [Fact]
    public void Cmos_clock_reads_the_time_in_bcd_and_ram_keeps_writes()
    {
        var now = new DateTime(2026, 12, 6, 23, 59, 58, DateTimeKind.Utc);
        _bus.RegisterPorts(CmosRtc.IndexPort, CmosRtc.PortCount, new CmosRtc(() => now));
        byte Read(byte index)
        {
            Out(0x70, (byte)(0x80 | index)); // bit 7 masks NMI and is not part of the index
            return In(0x71)[0];
        }
        Assert.Equal(0x58, Read(0x00));
        Assert.Equal(0x59, Read(0x02));
        Assert.Equal(0x23, Read(0x04));
        Assert.Equal(0x06, Read(0x07));
        Assert.Equal(0x12, Read(0x08));
        Assert.Equal(0x26, Read(0x09));
        Assert.Equal(0x20, Read(0x32));
        Assert.Equal(0x02, Read(0x0b)); // 24-hour BCD
        Assert.Equal(0, Read(0x0a) & 0x80); // never "update in progress"
        Assert.Equal(0x80, Read(0x0d));
        Out(0x70, 0x40);
        Out(0x71, 0xa5);
        Assert.Equal(0xa5, Read(0x40));
    }

    [Fact]
    public void Pci_configuration_reads_say_no_device_and_the_address_latches()
    {
        var pci = new PciConfigPorts();
        _bus.RegisterPorts(PciConfigPorts.AddressPort, PciConfigPorts.PortCount, pci);
        Out(0xcf8, 0x00, 0x08, 0x00, 0x80); // bus 0, device 1, register 0
        Assert.Equal(0x8000_0800u, BinaryPrimitives.ReadUInt32LittleEndian(In(0xcf8, 4)));
        Assert.Equal(0xffff_ffffu, BinaryPrimitives.ReadUInt32LittleEndian(In(0xcfc, 4)));
        Assert.Equal(0xff, In(0xcfe)[0]);
        Assert.Equal(2, pci.ConfigReads);
    }

    [Fact]
    public void Post_code_writes_are_ignored()
    {
        var post = new PostCodePort();
        _bus.RegisterPorts(PostCodePort.Port, 1, post);
        Assert.Equal(ExitAction.Continue, Out(0x80, 0x12));
        Assert.Equal(1, post.Writes);
        Assert.Equal(0, _bus.UnknownPortWrites);
    }

    [Fact]
    public void Fw_cfg_answers_signature_cpu_counts_and_ram_size()
    {
        _bus.RegisterPorts(FwCfgDevice.SelectorPort, FwCfgDevice.PortCount, new FwCfgDevice(256UL << 20, 2));
        byte[] Item(ushort key, int length)
        {
            Out(0x510, (byte)key, (byte)(key >> 8));
            return Enumerable.Range(0, length).Select(_ => In(0x511)[0]).ToArray();
        }
        Assert.Equal("QEMU"u8.ToArray(), Item(FwCfgDevice.Signature, 4));
        Assert.Equal(new byte[] { 2, 0 }, Item(FwCfgDevice.NbCpus, 2));
        Assert.Equal(new byte[] { 2, 0 }, Item(FwCfgDevice.MaxCpus, 2));
        Assert.Equal(256UL << 20, BinaryPrimitives.ReadUInt64LittleEndian(Item(FwCfgDevice.RamSize, 8)));
        Assert.Equal(new byte[] { 1, 0, 0, 0, 0 }, Item(FwCfgDevice.Id, 5)); // zeros past the end
        Assert.Equal(new byte[] { 0, 0 }, Item(0x1234, 2)); // unknown item: empty
    }
}
