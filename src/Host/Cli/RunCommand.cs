using System.CommandLine;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Host.Cli;

/// <summary>`actorvisor run --image FILE ...`: boots a flat, ELF64, boot-sector or multiboot guest image.</summary>
public static class RunCommand
{
    /// <summary>Image formats `run` understands.</summary>
    public enum ImageFormat
    {
        /// <summary>Detected from the file (see <see cref="ImageFormatDetector"/>): multiboot, ELF, boot sector or flat.</summary>
        Auto,
        /// <summary>A raw binary copied to the load address.</summary>
        Flat,
        /// <summary>An ELF64 x86-64 executable.</summary>
        Elf,
        /// <summary>A PC boot sector, entered at 0000:7c00 in real mode with DL = 0x80.</summary>
        BootSector,
        /// <summary>A multiboot v1 kernel, entered in 32-bit protected mode with its information in EBX.</summary>
        Multiboot,
    }

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var image = new Option<FileInfo?>("--image") { Description = "guest image file (or --kernel)" };
        var kernel = new Option<FileInfo?>("--kernel") { Description = "a Linux kernel (bzImage) to boot; needs KVM" };
        var format = new Option<ImageFormat>("--format")
        {
            Description = "flat, elf, bootsector, multiboot or auto (by the file's bytes: a multiboot header, the ELF magic, 512 bytes ending in 55 AA, else flat)",
            DefaultValueFactory = _ => ImageFormat.Auto,
        };
        var mode = new Option<BootMode?>("--mode") { Description = "real, protected or long (default: real for flat and boot sectors, protected for multiboot, long for ELF)" };
        var loadAddress = new Option<string?>("--load-address") { Description = "where a flat image or boot sector is loaded (default 0x8000 in real mode, 0x100000 otherwise, 0x7c00 for a boot sector)" };
        var cmdline = CommonOptions.CommandLine();
        var module = CommonOptions.Module();
        var entry = new Option<string?>("--entry") { Description = "entry point (default: the load address, or the ELF header's)" };
        var memory = new Option<string>("--memory") { Description = "guest RAM, e.g. 64M", DefaultValueFactory = _ => "64M" };
        var vcpus = new Option<int>("--vcpus") { Description = $"number of vCPUs (1..{GuestLayout.MaxVcpus})", DefaultValueFactory = _ => 1 };
        vcpus.Validators.Add(r =>
        {
            int n = r.GetValueOrDefault<int>();
            if (n < 1 || n > GuestLayout.MaxVcpus) r.AddError($"--vcpus must be between 1 and {GuestLayout.MaxVcpus}, got {n}");
        });
        var accelerator = CommonOptions.Accelerator();
        var timeout = CommonOptions.Timeout();
        var command = new Command("run", "Run a guest image; the exit code is the byte the guest wrote to the debug-exit port (0xf4)")
        {
            image, kernel, format, mode, loadAddress, entry, memory, vcpus, cmdline, module, accelerator, timeout,
        };
        command.SetAction(async (parse, _) =>
        {
            if (parse.GetValue(kernel) is { } linux) return RefuseLinux(linux, parse.GetValue(accelerator));
            var problems = new List<string>();
            if (parse.GetValue(image) is not { } file)
            {
                Console.Error.WriteLine("actorvisor: --image FILE (or --kernel FILE) is required");
                return ExitCodes.Usage;
            }
            ulong? Address(Option<string?> option)
            {
                var text = parse.GetValue(option);
                if (text is null) return null;
                if (ByteSize.TryParseNumber(text, out var value)) return value;
                problems.Add($"{option.Name}: '{text}' is not an address (decimal or 0x-prefixed hex)");
                return null;
            }
            var load = Address(loadAddress);
            var start = Address(entry);
            if (!ByteSize.TryParse(parse.GetValue(memory)!, out var memoryBytes, out var sizeError)) problems.Add($"--memory: {sizeError}");
            if (!file.Exists) problems.Add($"--image: {file.FullName} does not exist");
            if (problems.Count > 0)
            {
                foreach (var p in problems) Console.Error.WriteLine($"actorvisor: {p}");
                return ExitCodes.Usage;
            }

            var requestedMode = parse.GetValue(mode);
            int vcpuCount = parse.GetValue(vcpus);
            IBootableImage bootable;
            try
            {
                var modules = parse.GetValue(module)?.Select(MultibootModule.Parse).ToList();
                bootable = BootableImageFile.Open(file.FullName, requestedMode, vcpuCount: 1, FormatOf(parse.GetValue(format)), parse.GetValue(cmdline), modules);
            }
            catch (Exception e) when (e is ImageLoadException or ArgumentException)
            {
                Console.Error.WriteLine($"actorvisor: {e.Message}");
                return ExitCodes.Usage;
            }
            var spec = new MachineSpec
            {
                Image = bootable, MemoryBytes = memoryBytes, VcpuCount = vcpuCount, BootMode = requestedMode ?? bootable.BootMode, Entry = start, LoadAddress = load,
            };
            return await new GuestLauncher(Console.Out, Console.Error)
                .LaunchAsync(parse.GetValue(accelerator), spec, TimeSpan.FromSeconds(parse.GetValue(timeout)));
        });
        return command;
    }

    // A Linux kernel: refused with the reason where it cannot run (no usable KVM). Booting it is the bzImage
    // loader's (another branch); until it is merged this build refuses every Linux kernel.
    private static int RefuseLinux(FileInfo kernel, AcceleratorPreference preference)
    {
        if (!kernel.Exists)
        {
            Console.Error.WriteLine($"actorvisor: --kernel: {kernel.FullName} does not exist");
            return ExitCodes.Usage;
        }
        Console.Error.WriteLine($"actorvisor: cannot boot {kernel.FullName}: {LinuxGuestRequirement.WhyNot(preference) ?? "this build has no Linux kernel loader"}");
        return ExitCodes.Usage;
    }

    // The hardware layer's format, or null to detect it.
    private static Hardware.Images.ImageFormat? FormatOf(ImageFormat format) => format switch
    {
        ImageFormat.Flat => Hardware.Images.ImageFormat.Flat,
        ImageFormat.Elf => Hardware.Images.ImageFormat.Elf,
        ImageFormat.BootSector => Hardware.Images.ImageFormat.BootSector,
        ImageFormat.Multiboot => Hardware.Images.ImageFormat.Multiboot,
        _ => null,
    };
}
