using Actorvisor.Hardware.Devices;

namespace Actorvisor.Hardware.Machines;

/// <summary>
/// The PC platform's port devices besides the UART and the debug-exit port (i8042 with its reset command, CMOS/RTC,
/// PCI configuration ports, POST code port 0x80, fw_cfg), registered on a machine's bus: one place for what a booted
/// and a restored PC machine have.
/// </summary>
internal static class PcPlatformDevices
{
    /// <summary>Registers the devices on <paramref name="bus"/>; returns the i8042 (whose reset ends the machine) and all of them.</summary>
    public static (I8042Controller ResetController, IReadOnlyList<IPortIoDevice> Devices) Register(DeviceBus bus, ulong memoryBytes, int vcpuCount)
    {
        var i8042 = new I8042Controller();
        bus.RegisterPorts(I8042Controller.DataPort, I8042Controller.PortCount, i8042);
        var cmos = new CmosRtc();
        bus.RegisterPorts(CmosRtc.IndexPort, CmosRtc.PortCount, cmos);
        var pci = new PciConfigPorts();
        bus.RegisterPorts(PciConfigPorts.AddressPort, PciConfigPorts.PortCount, pci);
        var post = new PostCodePort();
        bus.RegisterPorts(PostCodePort.Port, 1, post);
        var fwCfg = new FwCfgDevice(memoryBytes, vcpuCount);
        bus.RegisterPorts(FwCfgDevice.SelectorPort, FwCfgDevice.PortCount, fwCfg);
        return (i8042, [i8042, cmos, pci, post, fwCfg]);
    }
}
