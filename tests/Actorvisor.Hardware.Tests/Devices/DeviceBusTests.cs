using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices;

namespace Actorvisor.Hardware.Tests.Devices;

public sealed class DeviceBusTests
{
    /// <summary>A port device that remembers the last access and answers reads with its offset.</summary>
    private sealed class RecordingPortDevice(string name) : IPortIoDevice
    {
        public string Name => name;
        public int Accesses;
        public ushort LastOffset;
        public IoDirection LastDirection;
        public uint LastValue;

        public ExitAction OnPortIo(ushort offset, IoDirection direction, Span<byte> data)
        {
            Accesses++;
            LastOffset = offset;
            LastDirection = direction;
            if (direction == IoDirection.In) data.Fill((byte)offset);
            else
            {
                uint v = 0;
                for (int i = data.Length - 1; i >= 0; i--) v = v << 8 | data[i];
                LastValue = v;
            }
            return ExitAction.Continue;
        }
    }

    private sealed class RecordingMmioDevice(string name) : IMmioDevice
    {
        public string Name => name;
        public ulong LastOffset = ulong.MaxValue;
        public bool LastWrite;

        public ExitAction OnMmio(ulong offset, bool isWrite, Span<byte> data)
        {
            LastOffset = offset;
            LastWrite = isWrite;
            if (!isWrite) data.Fill(0x5a);
            return ExitAction.Continue;
        }
    }

    [Fact]
    public void A_port_range_across_a_table_page_boundary_routes_every_port_and_unregisters_cleanly()
    {
        var bus = new DeviceBus();
        var low = new RecordingPortDevice("low");
        var high = new RecordingPortDevice("high");
        bus.RegisterPorts(0x1fe, 4, low);      // 0x1fe..0x201: two pages of the port table
        bus.RegisterPorts(0xfffe, 2, high);    // the last ports
        Span<byte> read = stackalloc byte[1];
        for (int port = 0x1fe; port <= 0x201; port++)
        {
            bus.OnPortIo((ushort)port, IoDirection.In, read);
            Assert.Equal(port - 0x1fe, low.LastOffset);
        }
        bus.OnPortIo(0xffff, IoDirection.In, read);
        Assert.Equal(1, high.LastOffset);
        bus.OnPortIo(0x202, IoDirection.In, read);
        Assert.Equal(0xff, read[0]);
        Assert.Equal(4, low.Accesses);

        Assert.Equal(1, bus.Unregister(low));
        bus.OnPortIo(0x200, IoDirection.In, read);
        Assert.Equal(0xff, read[0]);
        Assert.Equal(4, low.Accesses);
        Assert.Equal(2, bus.UnknownPortReads);
    }

    [Fact]
    public void A_bus_is_small_enough_to_stay_off_the_large_object_heap()
    {
        // A flat 64K-entry port table was a 128 KiB large-object allocation per machine, and those drove a full
        // gen2 collection every ~25 machines created. Two registrations cost a couple of KiB.
        long before = GC.GetAllocatedBytesForCurrentThread();
        var bus = new DeviceBus();
        bus.RegisterPorts(0x3f8, 8, new RecordingPortDevice("uart"));
        bus.RegisterPorts(0xf4, 1, new RecordingPortDevice("debug-exit"));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.InRange(allocated, 1, 16 * 1024);
        GC.KeepAlive(bus);
    }

    [Fact]
    public void Port_access_reaches_the_owning_device_with_its_offset()
    {
        var bus = new DeviceBus();
        var dev = new RecordingPortDevice("dev");
        bus.RegisterPorts(0x3f8, 8, dev);

        Span<byte> data = [0x41];
        Assert.Equal(ExitAction.Continue, bus.OnPortIo(0x3fb, IoDirection.Out, data));
        Assert.Equal(3, dev.LastOffset);
        Assert.Equal(0x41u, dev.LastValue);

        Span<byte> read = stackalloc byte[2];
        bus.OnPortIo(0x3ff, IoDirection.In, read);
        Assert.Equal(7, dev.LastOffset);
        Assert.Equal(new byte[] { 7, 7 }, read.ToArray());
        Assert.Equal(0, bus.UnknownPortReads + bus.UnknownPortWrites);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void Unknown_port_reads_all_ones_and_is_counted(int size)
    {
        var bus = new DeviceBus();
        bus.RegisterPorts(0x3f8, 8, new RecordingPortDevice("com1"));
        var data = new byte[size];
        Assert.Equal(ExitAction.Continue, bus.OnPortIo(0x3f7, IoDirection.In, data));
        Assert.All(data, b => Assert.Equal(0xff, b));
        Assert.Equal(1, bus.UnknownPortReads);
        Assert.Equal(0, bus.UnknownPortWrites);
    }

    [Fact]
    public void Unknown_port_write_is_ignored_and_counted()
    {
        var bus = new DeviceBus();
        var dev = new RecordingPortDevice("com1");
        bus.RegisterPorts(0x3f8, 8, dev);
        for (int i = 0; i < 3; i++) bus.OnPortIo(0x80, IoDirection.Out, new byte[] { 1 });
        Assert.Equal(3, bus.UnknownPortWrites);
        Assert.Equal(0, dev.Accesses);
    }

    [Fact]
    public void Overlapping_port_ranges_are_rejected_naming_both_devices()
    {
        var bus = new DeviceBus();
        bus.RegisterPorts(0x3f8, 8, new RecordingPortDevice("com1"));
        var e = Assert.Throws<DeviceRangeConflictException>(() => bus.RegisterPorts(0x3ff, 2, new RecordingPortDevice("late")));
        Assert.Contains("late", e.Message);
        Assert.Contains("com1", e.Message);
        Assert.Contains("0x3ff", e.Message);
        // Adjacent ranges are fine, and the failed registration left nothing behind.
        bus.RegisterPorts(0x3f0, 8, new RecordingPortDevice("below"));
        bus.RegisterPorts(0x400, 1, new RecordingPortDevice("above"));
        Assert.Equal(3, bus.PortRanges.Count);
        bus.OnPortIo(0x3ff + 1, IoDirection.Out, new byte[] { 0 });
        Assert.Equal(0, bus.UnknownPortWrites);
    }

    [Fact]
    public void Port_range_must_be_non_empty_and_inside_the_port_space()
    {
        var bus = new DeviceBus();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => bus.RegisterPorts(0xfffe, 3, new RecordingPortDevice("x")));
        Assert.Equal("count", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => bus.RegisterPorts(0x10, 0, new RecordingPortDevice("x")));
        bus.RegisterPorts(0xfffe, 2, new RecordingPortDevice("top"));
        bus.OnPortIo(0xffff, IoDirection.Out, new byte[] { 1 });
        Assert.Equal(0, bus.UnknownPortWrites);
    }

    [Fact]
    public void Mmio_access_reaches_the_owning_device_among_many()
    {
        var bus = new DeviceBus();
        var devices = new RecordingMmioDevice[50];
        // Register out of address order to exercise the sorted insert.
        foreach (int i in Enumerable.Range(0, 50).Reverse())
        {
            devices[i] = new RecordingMmioDevice($"d{i}");
            bus.RegisterMmio(0xd000_0000UL + (ulong)i * 0x1000, 0x100, devices[i]);
        }
        Assert.Equal(bus.MmioRanges.OrderBy(r => r.Base).Select(r => r.Base), bus.MmioRanges.Select(r => r.Base));
        for (int i = 0; i < 50; i++)
        {
            var data = new byte[4];
            bus.OnMmio(0xd000_0000UL + (ulong)i * 0x1000 + 0x10, false, data);
            Assert.Equal(0x10UL, devices[i].LastOffset);
            Assert.Equal(new byte[] { 0x5a, 0x5a, 0x5a, 0x5a }, data);
        }
        // Between two ranges: nobody.
        var gap = new byte[4];
        bus.OnMmio(0xd000_0100UL, false, gap);
        Assert.Equal(new byte[] { 0xff, 0xff, 0xff, 0xff }, gap);
        Assert.Equal(1, bus.UnknownMmioReads);
    }

    [Fact]
    public void Unknown_mmio_write_is_ignored_and_counted()
    {
        var bus = new DeviceBus();
        Assert.Equal(ExitAction.Continue, bus.OnMmio(0xfee0_0000, true, new byte[] { 1, 2, 3, 4 }));
        Assert.Equal(1, bus.UnknownMmioWrites);
        Assert.Equal(0, bus.UnknownMmioReads);
    }

    [Fact]
    public void Overlapping_mmio_ranges_are_rejected()
    {
        var bus = new DeviceBus();
        bus.RegisterMmio(0x1000, 0x1000, new RecordingMmioDevice("a"));
        var e = Assert.Throws<DeviceRangeConflictException>(() => bus.RegisterMmio(0x1fff, 2, new RecordingMmioDevice("b")));
        Assert.Contains("[0x1000, 0x2000) (a)", e.Message);
        Assert.Contains("(b)", e.Message);
        Assert.Throws<DeviceRangeConflictException>(() => bus.RegisterMmio(0x0, 0x10000, new RecordingMmioDevice("c")));
        bus.RegisterMmio(0x2000, 1, new RecordingMmioDevice("d"));
        Assert.Throws<ArgumentOutOfRangeException>(() => bus.RegisterMmio(0x5000, 0, new RecordingMmioDevice("e")));
        Assert.Throws<ArgumentOutOfRangeException>(() => bus.RegisterMmio(ulong.MaxValue - 1, 4, new RecordingMmioDevice("f")));
    }

    [Fact]
    public void Unregister_frees_the_device_ranges()
    {
        var bus = new DeviceBus();
        var a = new RecordingPortDevice("a");
        var b = new RecordingPortDevice("b");
        var m = new RecordingMmioDevice("m");
        bus.RegisterPorts(0x10, 4, a);
        bus.RegisterPorts(0x20, 4, b);
        bus.RegisterMmio(0x1000, 0x10, m);
        Assert.Equal(1, bus.Unregister(a));
        Assert.Equal(1, bus.Unregister(m));

        bus.OnPortIo(0x11, IoDirection.Out, new byte[] { 1 });
        Assert.Equal(1, bus.UnknownPortWrites);
        Assert.Equal(0, a.Accesses);
        bus.OnPortIo(0x21, IoDirection.Out, new byte[] { 1 });
        Assert.Equal(1, b.Accesses);
        bus.OnMmio(0x1000, true, new byte[] { 1 });
        Assert.Equal(1, bus.UnknownMmioWrites);
        // The freed range can be taken again.
        var c = new RecordingPortDevice("c");
        bus.RegisterPorts(0x10, 4, c);
        bus.OnPortIo(0x12, IoDirection.Out, new byte[] { 9 });
        Assert.Equal(1, c.Accesses);
    }

    [Fact]
    public void Port_dispatch_allocates_nothing()
    {
        var bus = new DeviceBus();
        var dev = new RecordingPortDevice("dev");
        bus.RegisterPorts(0x3f8, 8, dev);
        var data = new byte[4];
        // Warm up (JIT), then measure.
        for (int i = 0; i < 100; i++) { bus.OnPortIo(0x3f8, IoDirection.Out, data); bus.OnPortIo(0x80, IoDirection.In, data); }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100_000; i++)
        {
            bus.OnPortIo((ushort)(0x3f8 + (i & 7)), IoDirection.Out, data.AsSpan(0, 1));
            bus.OnPortIo(0x80, IoDirection.In, data);
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // 200,000 dispatches: even one 24-byte object per dispatch would be ~4.8 MB. The runtime itself may
        // allocate a little on this thread meanwhile (tiered JIT recompiling the loop), so allow a few KiB.
        Assert.True(allocated < 16 * 1024, $"{allocated} bytes allocated over 200,000 port dispatches");
        Assert.Equal(100_100, dev.Accesses);
    }

    [Fact]
    public void Registration_while_other_threads_dispatch_is_safe()
    {
        var bus = new DeviceBus();
        var fixedDev = new RecordingPortDevice("fixed");
        bus.RegisterPorts(0x100, 1, fixedDev);
        using var stop = new CancellationTokenSource();
        long wrong = 0;
        var reader = Task.Run(() =>
        {
            var data = new byte[1];
            while (!stop.IsCancellationRequested)
            {
                bus.OnPortIo(0x100, IoDirection.In, data);
                if (data[0] != 0) Interlocked.Increment(ref wrong); // offset 0 from the fixed device
            }
        });
        for (int i = 0; i < 500; i++)
        {
            var d = new RecordingPortDevice($"d{i}");
            bus.RegisterPorts((ushort)(0x200 + i), 1, d);
            if (i % 2 == 0) bus.Unregister(d);
        }
        stop.Cancel();
        reader.Wait(TimeSpan.FromSeconds(30));
        Assert.Equal(0, Interlocked.Read(ref wrong));
        Assert.Equal(251, bus.PortRanges.Count);
    }
}
