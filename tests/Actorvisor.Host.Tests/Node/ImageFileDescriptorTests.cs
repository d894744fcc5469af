using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Runtime;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Soft;
using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Node;

namespace Actorvisor.Host.Tests.Node;

/// <summary>
/// The descriptors the node's resolver opens for a VM's image and modules stay open while the VM exists and are closed by
/// its teardown, by a build that fails, and by a registry that refuses the spec: counted in /proc/self/fd.
/// </summary>
public sealed class ImageFileDescriptorTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60); // the multiboot guest runs in well under a second
    private readonly string _images = Directory.CreateTempSubdirectory("actorvisor-image-fds-").FullName;
    private readonly SoftAccelerator _accelerator = new();

    public ImageFileDescriptorTests()
    {
        File.WriteAllBytes(Path.Combine(_images, "kernel.bin"), BootProtocolGuests.MultibootInfoReporter().Bytes.ToArray());
        File.WriteAllBytes(Path.Combine(_images, "mod.txt"), "module bytes"u8.ToArray());
    }

    public void Dispose()
    {
        _accelerator.Dispose();
        Directory.Delete(_images, recursive: true);
    }

    /// <summary>How many of this process's descriptors are open on files in the image directory.</summary>
    private int OpenImageFds() => Directory.GetFiles("/proc/self/fd").Count(fd =>
    {
        try { return new FileInfo(fd).LinkTarget?.StartsWith(_images + "/", StringComparison.Ordinal) == true; }
        catch (IOException) { return false; } // closed while listing
    });

    private static ApiVmSpec Kernel(string name) => new(name, 1, 16UL << 20, "./kernel.bin", Modules: ["mod.txt=first"]);

    [Fact]
    public async Task A_vms_image_and_module_are_open_while_it_exists_and_closed_by_its_teardown()
    {
        using var resolver = new VmImageResolver([_images], "n1");
        await using var runtime = ActorvisorRuntime.Start(new NodeCapacity(4, 1UL << 30), "image-fds");
        Assert.Equal(0, OpenImageFds());
        for (int round = 0; round < 3; round++)
        {
            var (spec, error) = resolver.Resolve(Kernel($"mb-{round}"), _accelerator);
            Assert.Null(error);
            Assert.Equal(2, OpenImageFds()); // the kernel and its module, held by the spec
            var session = await runtime.CreateVmAsync(spec!);
            Assert.Equal(2, OpenImageFds()); // built: the VM owns them
            await session.StartAsync();
            await session.Ended.WaitAsync(Wait); // completes once the VM has been torn down
            Assert.Equal(0, OpenImageFds());
            await session.DestroyAsync();
        }
    }

    [Fact]
    public async Task A_spec_the_registry_refuses_closes_its_files()
    {
        using var resolver = new VmImageResolver([_images], "n1");
        await using var runtime = ActorvisorRuntime.Start(new NodeCapacity(4, 1UL << 30), "image-fds-refused");
        var (first, _) = resolver.Resolve(Kernel("same"), _accelerator);
        var session = await runtime.CreateVmAsync(first!);
        var (duplicate, _) = resolver.Resolve(Kernel("same"), _accelerator);
        Assert.Equal(4, OpenImageFds());
        await Assert.ThrowsAsync<ActorvisorException>(() => runtime.CreateVmAsync(duplicate!));
        Assert.Equal(2, OpenImageFds()); // the refused spec's two are closed, the created VM's two remain
        await session.DestroyAsync();
        await session.Ended.WaitAsync(Wait);
        Assert.Equal(0, OpenImageFds());
    }
}
