using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Soft;
using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Node;

namespace Actorvisor.Host.Tests.Node;

/// <summary>The API's boot-protocol fields on a node: format, command line and modules, every file inside the image directories.</summary>
public sealed class VmImageResolverBootProtocolTests : IDisposable
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

    private string Write(string dir, string name, byte[] bytes)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void A_multiboot_kernel_with_a_module_in_the_image_directory_resolves()
    {
        var kernel = Write(_images, "kernel.bin", BootProtocolGuests.MultibootInfoReporter().Bytes.ToArray());
        Write(_images, "mod.txt", "abc"u8.ToArray());
        var spec = new ApiVmSpec("mb", 1, 16UL << 20, kernel, CommandLine: "quiet", Modules: ["mod.txt=first"]);
        Assert.Null(ApiValidator.Spec(spec));
        var (resolved, error) = Resolver().Resolve(spec, _accelerator);
        Assert.Null(error);
        Assert.Contains(kernel, resolved!.Description);
    }

    [Fact]
    public void A_module_outside_the_image_directories_is_refused_naming_it()
    {
        var kernel = Write(_images, "kernel.bin", BootProtocolGuests.MultibootInfoReporter().Bytes.ToArray());
        var outside = Write(_outside, "secret", "x"u8.ToArray());
        var (resolved, error) = Resolver().Resolve(new ApiVmSpec("mb", 1, 16UL << 20, kernel, Modules: ["mod-ok.txt", outside]), _accelerator);
        Assert.Null(resolved);
        Assert.Equal("spec.modules[0]", error!.Field); // the first one does not exist either
        Write(_images, "mod-ok.txt", "y"u8.ToArray());
        (resolved, error) = Resolver().Resolve(new ApiVmSpec("mb", 1, 16UL << 20, kernel, Modules: ["mod-ok.txt", outside]), _accelerator);
        Assert.Null(resolved);
        Assert.Equal("spec.modules[1]", error!.Field);
        Assert.Contains("outside node n1's image directories", error.Message);
    }

    [Fact]
    public void A_module_behind_a_symbolic_link_out_of_the_image_directory_is_refused_and_one_inside_is_read()
    {
        var kernel = Write(_images, "kernel.bin", BootProtocolGuests.MultibootInfoReporter().Bytes.ToArray());
        Write(_outside, "secret", "x"u8.ToArray());
        Directory.CreateSymbolicLink(Path.Combine(_images, "sub"), _outside);
        var (resolved, error) = Resolver().Resolve(new ApiVmSpec("mb", 1, 16UL << 20, kernel, Modules: ["sub/secret"]), _accelerator);
        Assert.Null(resolved);
        Assert.Equal("spec.modules[0]", error!.Field);
        Assert.Contains("sub/secret", error.Message);

        Directory.CreateDirectory(Path.Combine(_images, "mods"));
        Write(Path.Combine(_images, "mods"), "inside", "y"u8.ToArray());
        File.CreateSymbolicLink(Path.Combine(_images, "inside-link"), "mods/inside");
        (resolved, error) = Resolver().Resolve(new ApiVmSpec("mb", 1, 16UL << 20, kernel, Modules: ["inside-link"]), _accelerator);
        Assert.Null(error);
        Assert.NotNull(resolved);
    }

    [Fact]
    public void A_boot_sector_asked_to_boot_in_long_mode_is_refused()
    {
        var boot = Write(_images, "boot.bin", BootProtocolGuests.BootSectorHello().Bytes.ToArray());
        var (resolved, error) = Resolver().Resolve(new ApiVmSpec("bs", 1, 16UL << 20, boot, BootMode: "long"), _accelerator);
        Assert.Null(resolved);
        Assert.Equal("spec.image", error!.Field);
        Assert.Contains("real mode only", error.Message);
        (resolved, error) = Resolver().Resolve(new ApiVmSpec("bs", 1, 16UL << 20, boot, Format: "bootsector"), _accelerator);
        Assert.Null(error);
        Assert.NotNull(resolved);
    }

    [Theory]
    [InlineData("spec.format", "hello", "multiboot", null)]
    [InlineData("spec.format", "/images/k.bin", "pe", null)]
    [InlineData("spec.commandLine", "hello", null, "x")]
    [InlineData("spec.commandLine", "/images/k.bin", "elf", "x")]
    [InlineData("spec.commandLine", "/images/k.bin", null, "a\nb")]
    public void The_validator_checks_the_boot_protocol_fields(string field, string image, string? format, string? commandLine)
    {
        var error = ApiValidator.Spec(new ApiVmSpec("v", 1, 16UL << 20, image, Format: format, CommandLine: commandLine));
        Assert.Equal(field, error?.Field);
    }

    [Fact]
    public void The_validator_checks_the_modules()
    {
        Assert.Equal("spec.modules[1]", ApiValidator.Spec(new ApiVmSpec("v", 1, 16UL << 20, "/images/k.bin", Modules: ["a", "=b"]))?.Field);
        Assert.Equal("spec.modules", ApiValidator.Spec(new ApiVmSpec("v", 1, 16UL << 20, "hello", Modules: ["a"]))?.Field);
        Assert.Equal("spec.modules", ApiValidator.Spec(new ApiVmSpec("v", 1, 16UL << 20, "/images/k.bin", Modules: [.. Enumerable.Repeat("m", 17)]))?.Field);
        Assert.Null(ApiValidator.Spec(new ApiVmSpec("v", 1, 16UL << 20, "/images/k.bin", Format: "multiboot", CommandLine: "a b", Modules: ["m=s"])));
    }
}
