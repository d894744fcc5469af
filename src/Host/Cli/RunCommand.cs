using System.CommandLine;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.Images.Linux;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Host.Cli;

/// <summary>
/// `actorvisor run --image FILE ...`: boots any flat or ELF64 guest image; `actorvisor run --kernel bzImage
/// [--initrd FILE] [--cmdline TEXT]` boots Linux on KVM's PC platform with stdin forwarded to its serial console.
/// </summary>
public static class RunCommand
{
    /// <summary>Image formats `run` understands.</summary>
    public enum ImageFormat
    {
        /// <summary>Flat if the file does not start with the ELF magic, else ELF.</summary>
        Auto,
        /// <summary>A raw binary copied to the load address.</summary>
        Flat,
        /// <summary>An ELF64 x86-64 executable.</summary>
        Elf,
    }

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var image = new Option<FileInfo?>("--image") { Description = "guest image file (or --kernel)" };
        var kernel = new Option<FileInfo?>("--kernel") { Description = "a Linux bzImage to boot on KVM's PC platform (instead of --image)" };
        var initrd = new Option<FileInfo?>("--initrd") { Description = "the initrd (initramfs) for --kernel" };
        var cmdline = new Option<string>("--cmdline") { Description = "the kernel command line for --kernel", DefaultValueFactory = _ => DefaultCommandLine };
        var format = new Option<ImageFormat>("--format") { Description = "flat, elf or auto (by the file's magic)", DefaultValueFactory = _ => ImageFormat.Auto };
        var mode = new Option<BootMode?>("--mode") { Description = "real, protected or long (default: real for flat, long for ELF)" };
        var loadAddress = new Option<string?>("--load-address") { Description = "where a flat image is loaded (default 0x8000 in real mode, 0x100000 otherwise)" };
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
            image, kernel, initrd, cmdline, format, mode, loadAddress, entry, memory, vcpus, accelerator, timeout,
        };
        command.SetAction(async (parse, _) =>
        {
            var problems = new List<string>();
            var file = parse.GetValue(image);
            var kernelFile = parse.GetValue(kernel);
            if (kernelFile is not null)
                return await RunLinuxAsync(kernelFile, parse.GetValue(initrd), parse.GetValue(cmdline)!, file,
                    parse.GetResult(memory) is null or { Implicit: true } ? LinuxDefaultMemory : parse.GetValue(memory)!,
                    parse.GetValue(vcpus), parse.GetValue(accelerator), TimeSpan.FromSeconds(parse.GetValue(timeout)));
            if (file is null)
            {
                Console.Error.WriteLine("actorvisor: give --image FILE (a flat or ELF image) or --kernel FILE (a Linux bzImage)");
                return ExitCodes.Usage;
            }
            if (parse.GetResult(initrd) is { Implicit: false } || parse.GetResult(cmdline) is { Implicit: false })
            {
                Console.Error.WriteLine("actorvisor: --initrd and --cmdline go with --kernel");
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

            var fmt = parse.GetValue(format);
            if (fmt == ImageFormat.Auto) fmt = StartsWithElfMagic(file) ? ImageFormat.Elf : ImageFormat.Flat;
            var bootMode = parse.GetValue(mode) ?? (fmt == ImageFormat.Elf ? BootMode.Long : BootMode.Real);
            int vcpuCount = parse.GetValue(vcpus);
            IBootableImage bootable = fmt == ImageFormat.Elf
                ? new ElfImageFile(file.FullName, bootMode)
                : new FlatImageFile(file.FullName, bootMode);
            var spec = new MachineSpec
            {
                Image = bootable, MemoryBytes = memoryBytes, VcpuCount = vcpuCount, BootMode = bootMode, Entry = start, LoadAddress = load,
            };
            return await new GuestLauncher(Console.Out, Console.Error)
                .LaunchAsync(parse.GetValue(accelerator), spec, TimeSpan.FromSeconds(parse.GetValue(timeout)));
        });
        return command;
    }

    /// <summary>The command line a Linux guest gets unless told otherwise: the serial console, no PCI bus to scan (the machine has no PCI device), a reset on panic, and the i8042 probe kept short.</summary>
    public const string DefaultCommandLine = "console=ttyS0 reboot=k panic=-1 pci=off i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd";

    /// <summary>Guest RAM a Linux guest gets unless --memory says otherwise.</summary>
    public const string LinuxDefaultMemory = "256M";

    private static async Task<int> RunLinuxAsync(FileInfo kernel, FileInfo? initrd, string commandLine, FileInfo? image, string memory, int vcpus,
        AcceleratorPreference accelerator, TimeSpan timeout)
    {
        var problems = new List<string>();
        if (image is not null) problems.Add("--image and --kernel exclude each other");
        if (!kernel.Exists) problems.Add($"--kernel: {kernel.FullName} does not exist");
        if (initrd is { Exists: false }) problems.Add($"--initrd: {initrd.FullName} does not exist");
        if (!ByteSize.TryParse(memory, out var memoryBytes, out var sizeError)) problems.Add($"--memory: {sizeError}");
        if (problems.Count > 0)
        {
            foreach (var p in problems) Console.Error.WriteLine($"actorvisor: {p}");
            return ExitCodes.Usage;
        }
        var spec = new MachineSpec
        {
            Image = new LinuxKernelImage(kernel.FullName, initrd?.FullName, commandLine, vcpus), MemoryBytes = memoryBytes, VcpuCount = vcpus,
        };
        return await new GuestLauncher(Console.Out, Console.Error, Console.OpenStandardInput()).LaunchAsync(accelerator, spec, timeout);
    }

    private static bool StartsWithElfMagic(FileInfo file)
    {
        try
        {
            using var stream = file.OpenRead();
            Span<byte> magic = stackalloc byte[4];
            return stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false) == 4 && magic.SequenceEqual("\u007fELF"u8);
        }
        catch (IOException)
        {
            return false; // the loader reports the unreadable file with its reason
        }
    }
}
