using System.Text;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Soft;

namespace Actorvisor.Hardware.Tests.Guests;

/// <summary>
/// The endless dirtying loop on the software accelerator: its count= lines run on without end and every sum-every lines
/// it prints the sum of its dirtied region, which is the one <see cref="GuestLibrary.DirtyingLoopSumLine"/> computes
/// from the line count; a page write lost behind its back (what a migration that missed a dirty page does) shows as a
/// wrong sum.
/// </summary>
public sealed class DirtyingLoopTests : IDisposable
{
    private const int Pages = 64, PagesPerLine = 4, SumEvery = 32;
    private readonly SoftAccelerator _accelerator = new();
    private readonly CapturingConsoleSink _console = new();
    private readonly MachineParts _parts;
    private readonly LineStopper _handler;

    public DirtyingLoopTests()
    {
        var image = GuestLibrary.DirtyingLoop(Pages, PagesPerLine, SumEvery);
        _parts = MachineParts.Build(_accelerator, new MachineSpec { Image = image, MemoryBytes = 4 << 20 }, _console);
        _handler = new LineStopper(_parts.Bus);
    }

    public void Dispose()
    {
        _parts.Dispose();
        _accelerator.Dispose();
    }

    // Runs the guest until it has ended `lines` lines in all (it stops at that line's port write, before any sum after it).
    private void RunUntilLine(int lines)
    {
        _handler.StopAt = lines;
        var exit = _parts.Vcpus[0].Run(_handler);
        Assert.True(exit is VcpuExit.PortIo { Port: GuestLibrary.PortIoLoopPort } && _handler.Lines == lines, $"the guest stopped with {exit} after {_handler.Lines} lines; console: {_console.Text}");
    }

    private static string Expected(int lines)
    {
        var text = new StringBuilder();
        for (uint n = 0; n < lines; n++)
        {
            text.Append(GuestLibrary.CounterLine(n));
            if ((n + 1) % SumEvery == 0 && n + 1 < lines) text.Append(GuestLibrary.DirtyingLoopSumLine(n + 1, PagesPerLine));
        }
        return text.ToString();
    }

    [Fact]
    public void It_prints_the_counter_and_every_sum_every_lines_the_sum_its_line_count_predicts()
    {
        // Past three sums and round the 64-page region three times over (4 pages a line: 16 lines a round).
        RunUntilLine(3 * SumEvery + 5);
        Assert.Equal(Expected(3 * SumEvery + 5), _console.Text);
        Assert.Contains("sum=00000180\n", _console.Text); // 96 lines * 4 pages
    }

    [Fact]
    public void A_page_write_lost_behind_its_back_shows_as_a_wrong_sum()
    {
        RunUntilLine(SumEvery + 3);
        // Undo the guest's latest increment of the first dirtied page: a migration that missed that dirty page.
        Span<byte> dword = stackalloc byte[4];
        _parts.Memory.Read(GuestLibrary.DirtiedRegionAddress, dword);
        uint value = BitConverter.ToUInt32(dword);
        Assert.True(value > 0, "the guest never dirtied the region's first page");
        BitConverter.TryWriteBytes(dword, value - 1);
        _parts.Memory.Write(GuestLibrary.DirtiedRegionAddress, dword);

        RunUntilLine(2 * SumEvery + 1);
        var text = _console.Text;
        Assert.Contains(GuestLibrary.DirtyingLoopSumLine(SumEvery, PagesPerLine), text);
        Assert.DoesNotContain(GuestLibrary.DirtyingLoopSumLine(2 * SumEvery, PagesPerLine), text);
        Assert.Contains($"sum={2 * SumEvery * PagesPerLine - 1:x8}\n", text); // one increment short
    }

    [Fact]
    public void Its_catalog_entry_takes_sum_every_and_it_refuses_zero()
    {
        var sumEvery = GuestCatalog.Find(GuestCatalog.DirtyingLoop)!.Parameters.Single(p => p.Name == "sum-every");
        Assert.Equal((1, GuestLibrary.DefaultDirtyingLoopSumEvery), (sumEvery.Min, sumEvery.Default));
        Assert.Equal("sumEvery", Assert.Throws<ArgumentOutOfRangeException>(() => GuestLibrary.DirtyingLoop(Pages, PagesPerLine, 0)).ParamName);
    }

    /// <summary>The machine's bus, stopping the vCPU at the port write that ends a given line.</summary>
    private sealed class LineStopper(DeviceBus bus) : IExitHandler
    {
        public int Lines { get; private set; }

        public int StopAt { get; set; }

        public ExitAction OnPortIo(ushort port, IoDirection direction, Span<byte> data)
        {
            var action = bus.OnPortIo(port, direction, data);
            if (port != GuestLibrary.PortIoLoopPort) return action;
            return ++Lines >= StopAt ? ExitAction.Stop : ExitAction.Continue;
        }

        public ExitAction OnMmio(ulong gpa, bool isWrite, Span<byte> data) => bus.OnMmio(gpa, isWrite, data);
    }
}
