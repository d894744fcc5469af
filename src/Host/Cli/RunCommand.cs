using System.CommandLine;
using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Host.Cli;

/// <summary>`actorvisor run --image FILE ...`: boots any flat or ELF64 guest image.</summary>
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
        var image = new Option<FileInfo>("--image") { Description = "guest image file", Required = true };
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
            image, format, mode, loadAddress, entry, memory, vcpus, accelerator, timeout,
        };
        command.SetAction(async (parse, _) =>
        {
            var problems = new List<string>();
            var file = parse.GetValue(image)!;
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
