using System.Text;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Images.Linux;

/// <summary>
/// A Linux bzImage with an optional initrd and a command line, booted through the 64-bit entry of the x86 boot
/// protocol on the PC platform. Loading copies the protected-mode kernel to pref_address (a relocatable kernel,
/// when it fits) or 1 MiB, writes boot_params with the e820 map and the command line (<see cref="LinuxBootLayout"/>),
/// and puts the initrd as high as initrd_addr_max and guest RAM allow. The entry is the load address + 0x200, with
/// RSI = boot_params; <see cref="BootSetup"/> supplies the flat GDT and the identity-mapped page tables.
/// </summary>
public sealed class LinuxKernelImage : IBootableImage
{
    /// <summary>A kernel at <paramref name="kernelPath"/>, optionally with the initrd at <paramref name="initrdPath"/>.</summary>
    public LinuxKernelImage(string kernelPath, string? initrdPath = null, string commandLine = "", int vcpuCount = 1)
    {
        ArgumentException.ThrowIfNullOrEmpty(kernelPath);
        ArgumentNullException.ThrowIfNull(commandLine);
        if (initrdPath is not null) ArgumentException.ThrowIfNullOrEmpty(initrdPath);
        ArgumentOutOfRangeException.ThrowIfLessThan(vcpuCount, 1);
        KernelPath = kernelPath;
        InitrdPath = initrdPath;
        CommandLine = commandLine;
        VcpuCount = vcpuCount;
    }

    /// <summary>The bzImage file.</summary>
    public string KernelPath { get; }

    /// <summary>The initrd file, or null.</summary>
    public string? InitrdPath { get; }

    /// <summary>The kernel command line.</summary>
    public string CommandLine { get; }

    /// <inheritdoc />
    public string Name => KernelPath;

    /// <summary>Long mode: the 64-bit entry.</summary>
    public BootMode BootMode => BootMode.Long;

    /// <inheritdoc />
    public int VcpuCount { get; }

    /// <summary>Only what loading checks (the header's init_size and the initrd decide).</summary>
    public ulong MinimumMemoryBytes => 0;

    /// <summary>The PC platform: a Linux kernel needs the interrupt controllers, timers and MP table.</summary>
    public GuestPlatform Platform => GuestPlatform.Pc;

    /// <summary>Loads kernel, boot_params, command line and initrd into <paramref name="ram"/>; <paramref name="loadAddress"/> overrides where the kernel goes.</summary>
    /// <exception cref="ImageLoadException">a file is unreadable, malformed, or does not fit; the exception names the file.</exception>
    public LoadedImage LoadInto(HostMemory ram, ulong? loadAddress = null)
    {
        ArgumentNullException.ThrowIfNull(ram);
        var file = ImageFile.ReadAll(KernelPath);
        var header = LinuxSetupHeader.Parse(file, KernelPath);
        ulong ramEnd = Math.Min(ram.Size, GuestLayout.MmioWindowBase);
        ulong load = loadAddress ?? ChooseLoadAddress(header, ramEnd);
        // 1 MiB is where every bzImage may go (the decompressor moves a relocatable kernel to an aligned address itself).
        if (header.Relocatable && load != LinuxBootLayout.DefaultKernelAddress && load % header.KernelAlignment != 0)
            throw new ImageLoadException(KernelPath, $"load address 0x{load:x} is not aligned to the kernel's kernel_alignment 0x{header.KernelAlignment:x}");
        if (!header.Relocatable && load != LinuxBootLayout.DefaultKernelAddress)
            throw new ImageLoadException(KernelPath, $"the kernel is not relocatable: it must be loaded at 0x{LinuxBootLayout.DefaultKernelAddress:x}, not 0x{load:x}");
        // What the file holds past the setup is copied whole: a header whose init_size is smaller than that (no real kernel's
        // is; a fuzzer found one) still gets room for all of it, checked against RAM below like the rest.
        ulong kernelFileBytes = (ulong)(file.Length - header.KernelOffset);
        ulong kernelEnd = load + Math.Max(Math.Max(header.InitSize, header.KernelBytes), kernelFileBytes);
        if (kernelEnd > ramEnd)
            throw new ImageLoadException(KernelPath,
                $"the kernel needs 0x{kernelEnd - load:x} bytes (init_size) from 0x{load:x}, up to 0x{kernelEnd:x}; guest RAM ends at 0x{ramEnd:x}"
                + (kernelEnd > GuestLayout.MmioWindowBase ? $" (the MMIO window starts at 0x{GuestLayout.MmioWindowBase:x})" : ""));

        var commandLine = Encoding.UTF8.GetBytes(CommandLine);
        ulong commandLineRoom = LinuxBootLayout.CommandLineLimit - LinuxBootLayout.CommandLineAddress - 1;
        ulong commandLineMax = Math.Min(header.CommandLineSize, commandLineRoom);
        if ((ulong)commandLine.Length > commandLineMax)
            throw new ImageLoadException(KernelPath, $"the command line is {commandLine.Length} bytes; this kernel accepts at most {commandLineMax} (cmdline_size {header.CommandLineSize})");

        var segments = new List<LoadedSegment>();
        ram.Write(load, file.AsSpan(header.KernelOffset));
        segments.Add(new LoadedSegment(load, kernelFileBytes, kernelEnd - load));
        ram.Span(load + kernelFileBytes, (int)(kernelEnd - load - kernelFileBytes)).Clear();

        ulong initrdAddress = 0, initrdSize = 0;
        if (InitrdPath is not null)
        {
            var initrd = ImageFile.ReadAll(InitrdPath);
            initrdSize = (ulong)initrd.Length;
            initrdAddress = PlaceInitrd(header, initrdSize, kernelEnd, ramEnd);
            ram.Write(initrdAddress, initrd);
            segments.Add(new LoadedSegment(initrdAddress, initrdSize, initrdSize));
        }

        ram.Span(LinuxBootLayout.CommandLineAddress, (int)(LinuxBootLayout.CommandLineLimit - LinuxBootLayout.CommandLineAddress)).Clear();
        ram.Write(LinuxBootLayout.CommandLineAddress, commandLine);
        segments.Add(new LoadedSegment(LinuxBootLayout.CommandLineAddress, (ulong)commandLine.Length + 1, (ulong)commandLine.Length + 1));
        var bootParams = LinuxBootParams.Build(file, header, LinuxBootLayout.CommandLineAddress, initrdAddress, initrdSize, PcMemoryMap.For(ramEnd),
            Acpi.AcpiTables.PcAddress);
        ram.Write(LinuxBootLayout.BootParamsAddress, bootParams);
        segments.Add(new LoadedSegment(LinuxBootLayout.BootParamsAddress, (ulong)bootParams.Length, (ulong)bootParams.Length));

        return new LoadedImage(KernelPath, load + LinuxSetupHeader.Entry64Offset, segments) { Handoff = new BootHandoff { Rsi = LinuxBootLayout.BootParamsAddress } };
    }

    // pref_address for a relocatable kernel when its init_size fits there, else 1 MiB (where every bzImage may go).
    private static ulong ChooseLoadAddress(LinuxSetupHeader header, ulong ramEnd)
    {
        ulong preferred = header.PreferredAddress;
        if (header.Relocatable && preferred >= LinuxBootLayout.DefaultKernelAddress && preferred % header.KernelAlignment == 0
            && preferred + Math.Max(header.InitSize, header.KernelBytes) <= ramEnd)
            return preferred;
        return LinuxBootLayout.DefaultKernelAddress;
    }

    // As high as the header and RAM allow, page aligned, above the kernel's init_size room.
    private ulong PlaceInitrd(LinuxSetupHeader header, ulong size, ulong kernelEnd, ulong ramEnd)
    {
        ulong limit = Math.Min((ulong)header.InitrdAddressMax + 1, ramEnd);
        string why = $"the initrd is 0x{size:x} bytes; it must fit between the kernel's end at 0x{kernelEnd:x} and 0x{limit:x}"
                     + $" (guest RAM ends at 0x{ramEnd:x}, the kernel's initrd_addr_max is 0x{header.InitrdAddressMax:x})";
        if (size > limit) throw new ImageLoadException(InitrdPath!, why);
        ulong address = (limit - size) & ~(PageSize.Bytes - 1);
        if (address < kernelEnd) throw new ImageLoadException(InitrdPath!, why);
        return address;
    }
}
