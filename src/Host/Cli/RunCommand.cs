using System.CommandLine;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices.Virtio;
using Actorvisor.Hardware.Devices.Virtio.Vsock;
using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.Images.Linux;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Host.Cli;

/// <summary>
/// `actorvisor run --image FILE ...`: boots a flat, ELF64, boot-sector or multiboot guest image; `actorvisor run
/// --kernel bzImage [--initrd FILE] [--cmdline TEXT]` boots Linux on KVM's PC platform with stdin forwarded to its
/// serial console.
/// </summary>
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
        var kernel = new Option<FileInfo?>("--kernel") { Description = "a Linux bzImage to boot on KVM's PC platform (instead of --image)" };
        var initrd = new Option<FileInfo?>("--initrd") { Description = "the initrd (initramfs) for --kernel" };
        var format = new Option<ImageFormat>("--format")
        {
            Description = "flat, elf, bootsector, multiboot or auto (by the file's bytes: a multiboot header, the ELF magic, 512 bytes ending in 55 AA, else flat)",
            DefaultValueFactory = _ => ImageFormat.Auto,
        };
        var mode = new Option<BootMode?>("--mode") { Description = "real, protected or long (default: real for flat and boot sectors, protected for multiboot, long for ELF)" };
        var loadAddress = new Option<string?>("--load-address") { Description = "where a flat image or boot sector is loaded (default 0x8000 in real mode, 0x100000 otherwise, 0x7c00 for a boot sector)" };
        var cmdline = CommonOptions.CommandLine();
        var module = CommonOptions.Module();
        var disk = CommonOptions.Disk();
        var vsock = CommonOptions.Vsock();
        var vsockSocket = new Option<string?>("--vsock-socket") { Description = "the Unix socket of --vsock (default: actorvisor-PID.vsock in the temporary directory)" };
        var virtioCommandLine = new Option<bool>("--virtio-cmdline")
        {
            Description = "with --kernel: also announce each virtio device on the kernel command line (virtio_mmio.device=), for a kernel built with CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES booted without ACPI; the ACPI tables announce them otherwise",
        };
        var net = CommonOptions.Net();
        var entry = new Option<string?>("--entry") { Description = "entry point (default: the load address, or the ELF header's)" };
        var memory = new Option<string>("--memory") { Description = "guest RAM, e.g. 64M", DefaultValueFactory = _ => "64M" };
        var vcpus = new Option<int>("--vcpus") { Description = $"number of vCPUs (1..{GuestLayout.MaxVcpus})", DefaultValueFactory = _ => 1 };
        vcpus.Validators.Add(r =>
        {
            int n = r.GetValueOrDefault<int>();
            if (n < 1 || n > GuestLayout.MaxVcpus) r.AddError($"--vcpus must be between 1 and {GuestLayout.MaxVcpus}, got {n}");
        });
        var platform = new Option<GuestPlatform?>("--platform")
        {
            Description = "minimal (RAM, a polled UART, debug-exit) or pc (KVM only: in-kernel PIC, IOAPIC, LAPICs and PIT, fw_cfg, interrupt-driven UART; "
                          + "vCPUs after the first wait for INIT-SIPI), e.g. for test kernels such as kvm-unit-tests (default: pc for --kernel, minimal for --image)",
        };
        var testDevice = new Option<bool>("--test-device")
        {
            Description = "with --platform pc: the interrupt-line ports of a PC test device at 0x2000 (QEMU pc-testdev's convention: writing N to 0x2000+LINE sets the line to N != 0), which conformance kernels such as kvm-unit-tests' ioapic use",
        };
        var accelerator = CommonOptions.Accelerator();
        var timeout = CommonOptions.Timeout();
        var command = new Command("run", "Run a guest image; the exit code is the byte the guest wrote to the debug-exit port (0xf4)")
        {
            image, kernel, initrd, cmdline, module, disk, net, vsock, vsockSocket, virtioCommandLine, format, mode, loadAddress, entry, memory, vcpus, platform, testDevice, accelerator, timeout,
        };
        command.SetAction(async (parse, _) =>
        {
            List<VirtioDiskSpec> disks;
            try { disks = [.. (parse.GetValue(disk) ?? []).Select(d => VirtioDiskSpec.Parse(d))]; }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine($"actorvisor: --disk: {e.Message}");
                return ExitCodes.Usage;
            }
            List<VirtioNetSpec> nets;
            try { nets = [.. (parse.GetValue(net) ?? []).Select(VirtioNetSpec.Parse)]; }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine($"actorvisor: --net: {e.Message}");
                return ExitCodes.Usage;
            }
            VirtioVsockSpec? vsockSpec = null;
            if (parse.GetValue(vsock) is { } cid)
            {
                if (cid is < VirtioVsock.MinimumGuestCid or > VirtioVsock.MaximumGuestCid)
                {
                    Console.Error.WriteLine($"actorvisor: --vsock: {cid} is reserved or too large: a guest CID is {VirtioVsock.MinimumGuestCid}..{VirtioVsock.MaximumGuestCid}");
                    return ExitCodes.Usage;
                }
                vsockSpec = new VirtioVsockSpec
                {
                    GuestCid = cid, SocketPath = Path.GetFullPath(parse.GetValue(vsockSocket) ?? Path.Combine(Path.GetTempPath(), $"actorvisor-{Environment.ProcessId}.vsock")),
                };
                Console.Error.WriteLine($"actorvisor: vsock: guest CID {cid}; connect to {vsockSpec.SocketPath} and write \"CONNECT PORT\\n\" to reach a guest port");
            }
            else if (parse.GetValue(vsockSocket) is not null)
            {
                Console.Error.WriteLine("actorvisor: --vsock-socket goes with --vsock");
                return ExitCodes.Usage;
            }
            if (parse.GetValue(kernel) is { } linux)
            {
                if (parse.GetValue(platform) is GuestPlatform.Minimal)
                {
                    Console.Error.WriteLine("actorvisor: a Linux kernel (--kernel) boots on the pc platform only");
                    return ExitCodes.Usage;
                }
                if (RefuseLinux(linux, parse.GetValue(accelerator)) is { } refused) return refused;
                return await RunLinuxAsync(linux, parse.GetValue(initrd), parse.GetValue(cmdline) ?? DefaultCommandLine, parse.GetValue(image),
                    parse.GetResult(memory) is null or { Implicit: true } ? LinuxDefaultMemory : parse.GetValue(memory)!,
                    parse.GetValue(vcpus), parse.GetValue(accelerator), TimeSpan.FromSeconds(parse.GetValue(timeout)), disks, nets, vsockSpec, parse.GetValue(virtioCommandLine));
            }
            var problems = new List<string>();
            if (parse.GetValue(image) is not { } file)
            {
                Console.Error.WriteLine("actorvisor: give --image FILE (a flat, ELF, boot-sector or multiboot image) or --kernel FILE (a Linux bzImage)");
                return ExitCodes.Usage;
            }
            if (parse.GetResult(initrd) is { Implicit: false })
            {
                Console.Error.WriteLine("actorvisor: --initrd goes with --kernel");
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
            foreach (var d in disks.Where(d => !File.Exists(d.Path))) problems.Add($"--disk: {Path.GetFullPath(d.Path)} does not exist");
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
                if (parse.GetValue(platform) is GuestPlatform.Pc) bootable = new PcPlatformImage(bootable) { TestDevice = parse.GetValue(testDevice), FirmwareHandoff = true };
                else if (parse.GetValue(testDevice)) throw new ArgumentException("--test-device goes with --platform pc");
            }
            catch (Exception e) when (e is ImageLoadException or ArgumentException)
            {
                Console.Error.WriteLine($"actorvisor: {e.Message}");
                return ExitCodes.Usage;
            }
            var spec = new MachineSpec
            {
                Image = bootable, MemoryBytes = memoryBytes, VcpuCount = vcpuCount, BootMode = requestedMode ?? bootable.BootMode, Entry = start, LoadAddress = load,
                Disks = disks, Nets = nets, Vsock = vsockSpec,
            };
            return await new GuestLauncher(Console.Out, Console.Error)
                .LaunchAsync(parse.GetValue(accelerator), spec, TimeSpan.FromSeconds(parse.GetValue(timeout)));
        });
        return command;
    }

    /// <summary>The command line a Linux guest gets unless told otherwise: the serial console, no PCI bus to scan (the machine has no PCI device), a reset on panic, and the i8042 probe kept short.</summary>
    public const string DefaultCommandLine = "console=ttyS0 reboot=k panic=-1 pci=off i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd";

    /// <summary>
    /// The command line of a Linux guest with <paramref name="virtioDevices"/> virtio-mmio devices: the PC platform's ACPI
    /// tables announce each device (LNRO0005), so the command line names them too only when <paramref name="announce"/>
    /// asks (a kernel with CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES and ACPI would otherwise probe each device twice).
    /// </summary>
    public static string LinuxCommandLine(string commandLine, int virtioDevices, bool announce) =>
        announce ? string.Join(' ', [commandLine, .. Enumerable.Range(0, virtioDevices).Select(VirtioMmioLayout.KernelParameter)]) : commandLine;

    /// <summary>Guest RAM a Linux guest gets unless --memory says otherwise.</summary>
    public const string LinuxDefaultMemory = "256M";

    // A Linux kernel: refused up front with the reason where it cannot run (no usable KVM); null if it may boot.
    private static int? RefuseLinux(FileInfo kernel, AcceleratorPreference preference)
    {
        if (!kernel.Exists)
        {
            Console.Error.WriteLine($"actorvisor: --kernel: {kernel.FullName} does not exist");
            return ExitCodes.Usage;
        }
        if (LinuxGuestRequirement.WhyNot(preference) is not { } why) return null;
        Console.Error.WriteLine($"actorvisor: cannot boot {kernel.FullName}: {why}");
        return ExitCodes.Usage;
    }

    private static async Task<int> RunLinuxAsync(FileInfo kernel, FileInfo? initrd, string commandLine, FileInfo? image, string memory, int vcpus,
        AcceleratorPreference accelerator, TimeSpan timeout, IReadOnlyList<VirtioDiskSpec> disks, IReadOnlyList<VirtioNetSpec> nets, VirtioVsockSpec? vsock, bool announceOnCommandLine)
    {
        var problems = new List<string>();
        if (image is not null) problems.Add("--image and --kernel exclude each other");
        if (!kernel.Exists) problems.Add($"--kernel: {kernel.FullName} does not exist");
        if (initrd is { Exists: false }) problems.Add($"--initrd: {initrd.FullName} does not exist");
        foreach (var d in disks.Where(d => !File.Exists(d.Path))) problems.Add($"--disk: {Path.GetFullPath(d.Path)} does not exist");
        if (!ByteSize.TryParse(memory, out var memoryBytes, out var sizeError)) problems.Add($"--memory: {sizeError}");
        if (problems.Count > 0)
        {
            foreach (var p in problems) Console.Error.WriteLine($"actorvisor: {p}");
            return ExitCodes.Usage;
        }
        var line = LinuxCommandLine(commandLine, disks.Count + nets.Count + (vsock is null ? 0 : 1), announceOnCommandLine);
        var spec = new MachineSpec
        {
            Image = new LinuxKernelImage(kernel.FullName, initrd?.FullName, line, vcpus), MemoryBytes = memoryBytes, VcpuCount = vcpus, Disks = disks, Nets = nets, Vsock = vsock,
        };
        return await new GuestLauncher(Console.Out, Console.Error, Console.OpenStandardInput()).LaunchAsync(accelerator, spec, timeout);
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
