using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.X86;
using Actorvisor.Host.Api.V1;

namespace Actorvisor.Host.Node;

/// <summary>
/// Turns an API <see cref="ApiVmSpec"/> into the actor runtime's <see cref="VmActorSpec"/> on this node:
/// a library guest by name, or an image file inside one of the node's image directories (a relative path
/// is taken from the first). Files outside those directories are refused, so an API client cannot load
/// arbitrary host files into a guest.
/// </summary>
public sealed class VmImageResolver(IReadOnlyList<string> imageDirectories, string nodeName)
{
    private readonly IReadOnlyList<string> _directories = imageDirectories.Select(d => Path.TrimEndingDirectorySeparator(Path.GetFullPath(d))).ToList();

    /// <summary>The spec to create, or an error naming the field.</summary>
    public (VmActorSpec? Spec, ApiErrorReply? Error) Resolve(ApiVmSpec spec, IAccelerator accelerator)
    {
        IBootableImage image;
        BootMode? requested = spec.BootMode switch
        {
            "real" => BootMode.Real,
            "protected" => BootMode.Protected,
            "long" => BootMode.Long,
            _ => null,
        };
        if (!GuestCatalog.IsPath(spec.Image))
        {
            if (!GuestCatalog.TryGet(spec.Image, out var guest))
                return (null, ApiErrorReply.Invalid("spec.image", $"'{spec.Image}' is not a library guest on node {nodeName}"));
            image = guest;
        }
        else
        {
            var (path, error) = Locate(spec.Image);
            if (error is not null) return (null, error);
            var modules = new List<MultibootModule>();
            for (int i = 0; i < (spec.Modules?.Count ?? 0); i++)
            {
                var module = MultibootModule.Parse(spec.Modules![i]);
                var (modulePath, moduleError) = Locate(module.Path);
                if (moduleError is not null)
                    return (null, ApiErrorReply.Invalid($"spec.modules[{i}]", moduleError.Message["spec.image: ".Length..]));
                modules.Add(module with { Path = modulePath! });
            }
            try
            {
                image = BootableImageFile.Open(path!, requested, spec.Vcpus, FormatOf(spec.Format), spec.CommandLine, modules);
            }
            catch (ImageLoadException e)
            {
                return (null, ApiErrorReply.Invalid("spec.image", e.Message));
            }
        }
        var machine = new MachineSpec { Image = image, MemoryBytes = spec.MemoryBytes, VcpuCount = spec.Vcpus, BootMode = requested };
        try
        {
            machine.Validate();
        }
        catch (MachineSpecException e)
        {
            var field = e.ParamName switch
            {
                nameof(MachineSpec.MemoryBytes) => "spec.memoryBytes",
                nameof(MachineSpec.VcpuCount) => "spec.vcpus",
                nameof(MachineSpec.BootMode) => "spec.bootMode",
                _ => "spec.image",
            };
            return (null, ApiErrorReply.Invalid(field, e.Message));
        }
        return (MachineVm.Spec(spec.Name, accelerator, machine), null);
    }

    private (string? Path, ApiErrorReply? Error) Locate(string image)
    {
        if (_directories.Count == 0)
            return (null, ApiErrorReply.Invalid("spec.image", $"node {nodeName} has no image directories configured (Node:ImageDirectories)"));
        var full = Path.GetFullPath(Path.IsPathRooted(image) ? image : Path.Combine(_directories[0], image));
        if (!_directories.Any(d => full.StartsWith(d + Path.DirectorySeparatorChar, StringComparison.Ordinal)))
            return (null, ApiErrorReply.Invalid("spec.image", $"'{image}' is outside node {nodeName}'s image directories ({string.Join(", ", _directories)})"));
        if (!File.Exists(full))
            return (null, ApiErrorReply.Invalid("spec.image", $"'{full}' does not exist on node {nodeName}"));
        return (full, null);
    }

    private static ImageFormat? FormatOf(string? format) => format switch
    {
        "flat" => ImageFormat.Flat,
        "elf" => ImageFormat.Elf,
        "bootsector" => ImageFormat.BootSector,
        "multiboot" => ImageFormat.Multiboot,
        _ => null,
    };
}
