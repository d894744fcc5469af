using Actorvisor.Hardware.Soft;
using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Node;

namespace Actorvisor.Host.Tests.Node;

/// <summary>The API's virtio disks on a node: "FILE[,ro]" inside the image directories, like images, checked when the VM is resolved.</summary>
public sealed class VmImageResolverDiskTests : IDisposable
{
    private readonly string _images = Directory.CreateTempSubdirectory("actorvisor-images-").FullName;
    private readonly string _outside = Directory.CreateTempSubdirectory("actorvisor-outside-").FullName;
    private readonly SoftAccelerator _accelerator = new();

    public void Dispose()
    {
        _accelerator.Dispose();
        Directory.Delete(_images, recursive: true);
        Directory.Delete(_outside, recursive: true);
    }

    private VmImageResolver Resolver() => new([_images], "n1");

    private static ApiVmSpec Spec(params string[] disks) => new("d", 1, 16UL << 20, "hello", Disks: disks);

    [Fact]
    public void Disks_inside_the_image_directory_resolve_read_write_and_read_only()
    {
        File.WriteAllBytes(Path.Combine(_images, "a.img"), new byte[4096]);
        File.WriteAllBytes(Path.Combine(_images, "b.img"), new byte[4096]);
        var spec = Spec("a.img", Path.Combine(_images, "b.img") + ",ro");
        Assert.Null(ApiValidator.Spec(spec));
        var (resolved, error) = Resolver().Resolve(spec, _accelerator);
        Assert.Null(error);
        Assert.NotNull(resolved);
    }

    [Fact]
    public void A_disk_outside_the_image_directories_or_missing_is_refused_naming_it()
    {
        File.WriteAllBytes(Path.Combine(_images, "a.img"), new byte[4096]);
        var secret = Path.Combine(_outside, "secret.img");
        File.WriteAllBytes(secret, new byte[4096]);
        var (resolved, error) = Resolver().Resolve(Spec("a.img", secret), _accelerator);
        Assert.Null(resolved);
        Assert.Equal("spec.disks[1]", error!.Field);
        Assert.Contains("outside node n1's image directories", error.Message);

        (resolved, error) = Resolver().Resolve(Spec("../" + Path.GetFileName(_outside) + "/secret.img"), _accelerator);
        Assert.Null(resolved);
        Assert.Equal("spec.disks[0]", error!.Field);
        Assert.Contains("leads out of", error.Message);

        (resolved, error) = Resolver().Resolve(Spec("missing.img,ro"), _accelerator);
        Assert.Equal("spec.disks[0]", error!.Field);
        Assert.Contains("does not exist", error.Message);
    }
}
