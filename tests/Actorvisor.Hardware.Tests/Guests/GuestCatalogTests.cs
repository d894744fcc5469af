using Actorvisor.Hardware.Guests;

namespace Actorvisor.Hardware.Tests.Guests;

public sealed class GuestCatalogTests
{
    [Fact]
    public void Catalog_names_every_library_guest_once()
    {
        Assert.Equal(GuestCatalog.Names.Count, GuestCatalog.Names.Distinct().Count());
        // The catalog guests outside GuestLibrary.All: the async-PF scheduler guest needs lazy memory and prints varying
        // counts, the virtio-blk driver needs a disk, the dirtying loop never ends.
        Assert.Equal(GuestLibrary.All().Select(g => g.Name).Append(GuestCatalog.DirtyingLoop).Append(GuestCatalog.AsyncPfScheduler).Append(GuestCatalog.VirtioBlockDriver).Order(), GuestCatalog.Names.Order());
    }

    [Fact]
    public void Guests_are_found_by_exact_name()
    {
        Assert.Equal(2, GuestCatalog.Find("two-vcpu-writer")!.Default.VcpuCount);
        Assert.Null(GuestCatalog.Find("HELLO"));
        Assert.Null(GuestCatalog.Find("no-such-guest"));
        Assert.False(GuestCatalog.TryGet("no-such-guest", out _));
    }

    [Fact]
    public void Default_image_is_assembled_once_and_shared()
    {
        Assert.True(GuestCatalog.TryGet("exit-with", out var first));
        Assert.True(GuestCatalog.TryGet("exit-with", out var second));
        Assert.Same(first, second);
        Assert.Equal(42, first.ExpectedResultCode);
    }

    [Fact]
    public void Spin_is_a_port_io_loop_that_does_not_end()
    {
        Assert.True(GuestCatalog.TryGet(GuestCatalog.Spin, out var spin));
        Assert.Equal("port-io-loop", spin.Name);
        Assert.Equal($"port-io={int.MaxValue:x8}\n", spin.ExpectedConsole);
    }

    [Fact]
    public void Every_default_lies_in_its_parameters_range()
    {
        foreach (var parameter in GuestCatalog.Entries.SelectMany(e => e.Parameters))
            Assert.InRange(parameter.Default, parameter.Min, parameter.Max);
    }

    [Fact]
    public void Image_reference_with_a_slash_is_a_path()
    {
        Assert.True(GuestCatalog.IsPath("images/guest.elf"));
        Assert.False(GuestCatalog.IsPath("hello"));
        Assert.DoesNotContain(GuestCatalog.Names, GuestCatalog.IsPath);
    }
}
