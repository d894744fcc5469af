using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Images;

/// <summary>
/// Loads a multiboot v1 kernel as a multiboot loader must: the kernel at the addresses of its header's address
/// fields (flag 16) or else of its ELF32/ELF64 program headers, the modules after it on page boundaries, and the
/// <see cref="MultibootInfo"/> block where neither is (the real-mode window at 0x8000 when free, else the page
/// after the last module). The entry gets EAX = 0x2BADB002 and EBX = the information's address; the CPU state
/// (32-bit protected mode, flat segments, paging off, interrupts off; there is no A20 gate, so A20 is always on) is
/// <see cref="BootSetup"/>'s for <see cref="BootMode.Protected"/>. Like every image, a VM with more vCPUs starts them all at
/// the entry (with the same EAX and EBX); holding application processors until a SIPI is the PC platform's.
/// Everything is checked before the first byte is written.
/// </summary>
public static class MultibootLoader
{
    /// <summary>Where the information block goes when the kernel and modules leave the window free.</summary>
    public const ulong InfoWindowBase = GuestLayout.RealModeImageBase;

    /// <summary>One past the information window.</summary>
    public const ulong InfoWindowEnd = GuestLayout.RealModeImageEnd;

    private const ulong PageBytes = 4096;
    private const ulong FourGiB = 0x1_0000_0000;

    /// <summary>A module's bytes, the file they came from and the string the kernel gets for it.</summary>
    /// <param name="Name">The module's file, for errors.</param>
    /// <param name="Bytes">Its contents.</param>
    /// <param name="CommandLine">Its string.</param>
    public sealed record ModuleData(string Name, ReadOnlyMemory<byte> Bytes, string CommandLine);

    /// <summary>Loads <paramref name="kernel"/> with <paramref name="modules"/> into <paramref name="ram"/>.</summary>
    /// <param name="ram">Guest RAM from guest-physical address 0.</param>
    /// <param name="kernel">The kernel file's bytes.</param>
    /// <param name="name">The kernel file's path, for errors.</param>
    /// <param name="commandLine">The kernel's command line.</param>
    /// <param name="modules">The modules, in order.</param>
    /// <returns>The kernel's, the modules' and the information's memory as segments (in that order), the entry, and the EAX/EBX handoff.</returns>
    /// <exception cref="ImageLoadException">malformed, or something does not fit in RAM below the MMIO window (nothing is written then).</exception>
    public static LoadedImage Load(HostMemory ram, ReadOnlySpan<byte> kernel, string name, string commandLine, IReadOnlyList<ModuleData> modules)
    {
        ArgumentNullException.ThrowIfNull(ram);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(commandLine);
        ArgumentNullException.ThrowIfNull(modules);
        var header = MultibootHeader.Parse(kernel, name);
        var (entry, pieces) = header.Addresses is { } addresses ? AoutPieces(kernel, name, header, addresses) : ElfPieces(kernel, name);
        foreach (var p in pieces) CheckPlacement(ram, name, "kernel", p.Address, p.MemoryBytes);
        if (!pieces.Any(p => entry >= p.Address && entry < p.Address + p.MemoryBytes))
            throw new ImageLoadException(name, $"the entry point 0x{entry:x} lies outside everything the kernel loads");
        if (entry >= FourGiB) throw new ImageLoadException(name, $"the entry point 0x{entry:x} is not reachable in 32-bit protected mode");

        ulong cursor = AlignUp(pieces.Max(p => p.Address + p.MemoryBytes));
        var placedModules = new List<MultibootInfo.Module>(modules.Count);
        foreach (var m in modules)
        {
            ulong length = (ulong)m.Bytes.Length;
            CheckPlacement(ram, name, $"module '{m.Name}'", cursor, Math.Max(length, 1));
            placedModules.Add(new MultibootInfo.Module(cursor, cursor + length, m.CommandLine));
            cursor = AlignUp(cursor + length);
        }

        ulong infoBytes = (ulong)MultibootInfo.BlockBytes(commandLine, modules.Select(m => m.CommandLine));
        bool windowFree = infoBytes <= InfoWindowEnd - InfoWindowBase
            && !pieces.Any(p => p.Address < InfoWindowEnd && InfoWindowBase < p.Address + p.MemoryBytes);
        ulong infoAt = windowFree ? InfoWindowBase : cursor;
        CheckPlacement(ram, name, "multiboot information", infoAt, infoBytes);
        var info = MultibootInfo.Build(infoAt, ram.Size, commandLine, placedModules);

        var segments = new List<LoadedSegment>();
        foreach (var p in pieces)
        {
            ram.Write(p.Address, kernel.Slice((int)p.FileOffset, (int)p.FileBytes));
            ulong bss = p.MemoryBytes - p.FileBytes;
            for (ulong done = 0; done < bss;)
            {
                int chunk = (int)Math.Min(bss - done, 1UL << 30);
                ram.Span(p.Address + p.FileBytes + done, chunk).Clear();
                done += (ulong)chunk;
            }
            segments.Add(new LoadedSegment(p.Address, p.FileBytes, p.MemoryBytes));
        }
        for (int i = 0; i < modules.Count; i++)
        {
            ram.Write(placedModules[i].Start, modules[i].Bytes.Span);
            segments.Add(new LoadedSegment(placedModules[i].Start, (ulong)modules[i].Bytes.Length, (ulong)modules[i].Bytes.Length));
        }
        ram.Write(infoAt, info);
        segments.Add(new LoadedSegment(infoAt, (ulong)info.Length, (ulong)info.Length));
        return new LoadedImage(name, entry, segments)
        {
            Handoff = new BootHandoff { Rax = MultibootHeader.BootloaderMagic, Rbx = infoAt },
        };
    }

    private sealed record Piece(ulong FileOffset, ulong Address, ulong FileBytes, ulong MemoryBytes);

    // The a.out kludge: the file from load_addr's offset (header_addr - load_addr before the header) to
    // load_end_addr, then zeroes to bss_end_addr.
    private static (ulong Entry, List<Piece> Pieces) AoutPieces(ReadOnlySpan<byte> kernel, string name, MultibootHeader header, MultibootHeader.LoadAddresses a)
    {
        if (a.HeaderAddress < a.LoadAddress)
            throw new ImageLoadException(name, $"multiboot header_addr 0x{a.HeaderAddress:x} lies below load_addr 0x{a.LoadAddress:x}");
        ulong before = a.HeaderAddress - a.LoadAddress;
        if (before > (ulong)header.Offset)
            throw new ImageLoadException(name, $"multiboot load_addr 0x{a.LoadAddress:x} is 0x{before:x} bytes before the header, which is only 0x{header.Offset:x} bytes into the file");
        ulong fileOffset = (ulong)header.Offset - before;
        ulong loadEnd = a.LoadEndAddress == 0 ? a.LoadAddress + ((ulong)kernel.Length - fileOffset) : a.LoadEndAddress;
        if (loadEnd <= a.LoadAddress)
            throw new ImageLoadException(name, $"multiboot load_end_addr 0x{loadEnd:x} is not above load_addr 0x{a.LoadAddress:x}");
        ulong fileBytes = loadEnd - a.LoadAddress;
        if (fileBytes > (ulong)kernel.Length - fileOffset)
            throw new ImageLoadException(name, $"truncated kernel: load_end_addr 0x{loadEnd:x} needs 0x{fileBytes:x} bytes from file offset 0x{fileOffset:x}, the file has {kernel.Length}");
        ulong bssEnd = a.BssEndAddress == 0 ? loadEnd : a.BssEndAddress;
        if (bssEnd < loadEnd)
            throw new ImageLoadException(name, $"multiboot bss_end_addr 0x{bssEnd:x} lies below load_end_addr 0x{loadEnd:x}");
        return (a.EntryAddress, [new Piece(fileOffset, a.LoadAddress, fileBytes, bssEnd - a.LoadAddress)]);
    }

    private static (ulong Entry, List<Piece> Pieces) ElfPieces(ReadOnlySpan<byte> kernel, string name)
    {
        if (!ElfSegments.HasElfMagic(kernel))
            throw new ImageLoadException(name, "the multiboot header has no address fields (flag 16) and the file is not ELF, so nothing says where to load it");
        var exe = ElfSegments.Parse(kernel, name);
        return (exe.PhysicalEntry, [.. exe.Segments.Select(s => new Piece(s.FileOffset, s.PhysicalAddress, s.FileBytes, s.MemoryBytes))]);
    }

    private static void CheckPlacement(HostMemory ram, string name, string what, ulong address, ulong length)
    {
        ulong end = address + length;
        if (end < address || address >= FourGiB || end > FourGiB)
            throw new ImageLoadException(name, $"the {what} at [0x{address:x}, 0x{end:x}) lies above 4 GiB, out of reach of a 32-bit kernel");
        if (address < GuestLayout.MmioWindowEnd && GuestLayout.MmioWindowBase < end)
            throw new ImageLoadException(name,
                $"the {what} at [0x{address:x}, 0x{end:x}) lies over the MMIO window [0x{GuestLayout.MmioWindowBase:x}, 0x{GuestLayout.MmioWindowEnd:x}), where there is no RAM");
        if (end > ram.Size)
            throw new ImageLoadException(name, $"the {what} at [0x{address:x}, 0x{end:x}) ends beyond guest RAM (0x{ram.Size:x} bytes); give the VM more memory");
    }

    private static ulong AlignUp(ulong value) => (value + PageBytes - 1) & ~(PageBytes - 1);
}
