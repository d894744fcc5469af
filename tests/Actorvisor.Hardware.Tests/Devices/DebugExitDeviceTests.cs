using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices;

namespace Actorvisor.Hardware.Tests.Devices;

public sealed class DebugExitDeviceTests
{
    [Fact]
    public async Task A_byte_write_records_the_result_code_and_stops_the_vcpu()
    {
        var dev = new DebugExitDevice();
        Assert.False(dev.HasExited);
        Assert.Null(dev.ResultCode);
        Assert.Equal(ExitAction.Stop, dev.OnPortIo(0, IoDirection.Out, new byte[] { 42 }));
        Assert.True(dev.HasExited);
        Assert.Equal(42, dev.ResultCode);
        Assert.Equal(42, await dev.Exited.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public void A_dword_write_keeps_the_low_byte_as_result_code()
    {
        var dev = new DebugExitDevice();
        dev.OnPortIo(0, IoDirection.Out, new byte[] { 0x42, 0x56, 0x34, 0x12 });
        Assert.Equal(0x12345642u, dev.Value);
        Assert.Equal(0x42, dev.ResultCode);
    }

    [Fact]
    public void The_first_write_wins_even_when_vcpus_race()
    {
        var dev = new DebugExitDevice();
        using var start = new ManualResetEventSlim();
        var threads = Enumerable.Range(1, 8).Select(i => new Thread(() =>
        {
            start.Wait();
            dev.OnPortIo(0, IoDirection.Out, new byte[] { (byte)i });
        })).ToList();
        threads.ForEach(t => t.Start());
        start.Set();
        threads.ForEach(t => t.Join());
        Assert.Equal(8, dev.Writes);
        Assert.InRange(dev.ResultCode!.Value, 1, 8);
        Assert.Equal(dev.ResultCode, dev.Exited.Result);
    }

    [Fact]
    public void Reads_return_all_ones_and_do_not_exit()
    {
        var dev = new DebugExitDevice();
        var data = new byte[2];
        Assert.Equal(ExitAction.Continue, dev.OnPortIo(0, IoDirection.In, data));
        Assert.Equal(new byte[] { 0xff, 0xff }, data);
        Assert.False(dev.HasExited);
    }

    [Fact]
    public void On_the_bus_the_write_stops_the_run_loop()
    {
        var bus = new DeviceBus();
        var dev = new DebugExitDevice();
        bus.RegisterPorts(DebugExitDevice.DefaultPort, 1, dev);
        Assert.Equal(ExitAction.Stop, bus.OnPortIo(0xf4, IoDirection.Out, new byte[] { 3, 0 }));
        Assert.Equal(3, dev.ResultCode);
    }
}
