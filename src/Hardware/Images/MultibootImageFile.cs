using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Images;

/// <summary>
/// A multiboot v1 kernel file with its command line and module files (see <see cref="MultibootLoader"/>), booted
/// in 32-bit protected mode. The files are read when the image is loaded; a missing module is an error naming it.
/// </summary>
public sealed class MultibootImageFile : DiskImage
{
    /// <summary>The kernel at <paramref name="path"/> with <paramref name="commandLine"/> and <paramref name="modules"/>.</summary>
    public MultibootImageFile(string path, string? commandLine = null, IReadOnlyList<MultibootModule>? modules = null, int vcpuCount = 1)
        : base(path, BootMode.Protected, vcpuCount)
    {
        CommandLine = commandLine ?? "";
        Modules = modules ?? [];
    }

    /// <summary>The kernel read through the open <paramref name="file"/> (owned by the image from now on).</summary>
    public MultibootImageFile(ConfinedFile file, string? commandLine = null, IReadOnlyList<MultibootModule>? modules = null, int vcpuCount = 1)
        : base(file, BootMode.Protected, vcpuCount)
    {
        CommandLine = commandLine ?? "";
        Modules = modules ?? [];
    }

    /// <summary>The kernel's command line (empty if none was given).</summary>
    public string CommandLine { get; }

    /// <summary>The module files, in the order the kernel sees them.</summary>
    public IReadOnlyList<MultibootModule> Modules { get; }

    /// <inheritdoc />
    /// <exception cref="ImageLoadException">also when a load address is given: the kernel says where it is loaded.</exception>
    public override LoadedImage LoadInto(HostMemory ram, ulong? loadAddress = null)
    {
        if (loadAddress is { } a)
            throw new ImageLoadException(Path, $"a multiboot kernel is loaded at the addresses its header or ELF program headers give; a load address (0x{a:x}) cannot be given");
        var kernel = ReadBytes();
        var modules = Modules.Select(m => new MultibootLoader.ModuleData(m.Path, ReadModule(m), m.CommandLine)).ToList();
        return MultibootLoader.Load(ram, kernel, Path, CommandLine, modules);
    }

    /// <summary>Closes the module files opened through a confined directory.</summary>
    protected override void DisposeOtherFiles()
    {
        foreach (var m in Modules) m.File?.Dispose();
    }

    private byte[] ReadModule(MultibootModule module)
    {
        try
        {
            return module.File is { } file ? ImageFile.ReadAll(file) : ImageFile.ReadAll(module.Path);
        }
        catch (ImageLoadException e)
        {
            throw new ImageLoadException(Path, $"module '{module.Path}': {e.Problem}", e);
        }
    }
}
