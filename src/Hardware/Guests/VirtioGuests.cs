using Actorvisor.Hardware.Devices.Virtio;
using Actorvisor.Hardware.X86;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Hardware.Guests;

/// <summary>
/// Test guests of Actorvisor's own that drive virtio devices (block, network) as a driver would, by the book and without interrupts
/// (they poll the used ring), so that the same guest checks a device on both accelerators.
/// </summary>
public static class VirtioGuests
{
    /// <summary>The sector <see cref="BlockDriver"/> reads.</summary>
    public const ulong ReadSector = 1;
    /// <summary>The sector <see cref="BlockDriver"/> writes.</summary>
    public const ulong WrittenSector = 2;
    /// <summary>The dword <see cref="BlockDriver"/> fills the written sector with ("virt").</summary>
    public const uint WrittenPattern = 0x7472_6976;

    // Guest-physical layout of the driver's rings and buffers, in the data area.
    private const uint Desc = (uint)GuestLayout.DataBase, Avail = Desc + 0x1000, Used = Desc + 0x2000;
    private const uint Headers = Desc + 0x3000, ReadBuffer = Desc + 0x4000, WriteBuffer = Desc + 0x5000, Statuses = Desc + 0x6000;
    private const ushort QueueSize = 8;
    private const ushort Next = SplitVirtqueue.DescNext, Write = SplitVirtqueue.DescWrite;

    /// <summary>
    /// Protected mode. Brings up the virtio-blk device at <paramref name="mmioBase"/> (status, VERSION_1 and FLUSH
    /// negotiated, one queue of 8 at fixed addresses), then reads <see cref="ReadSector"/>, writes
    /// <see cref="WrittenSector"/> full of <see cref="WrittenPattern"/> and flushes, one request at a time, each time
    /// notifying the queue and spinning on the used index. Prints "virtio-blk read=XXXXXXXX ok\n" (the first dword
    /// read) and exits with 0; a failed step prints "virtio-blk fail N\n" and exits with N (1: not a version 2 block
    /// device, 2: features refused, 3-5: request 1-3 answered with a bad status).
    /// </summary>
    public static GuestImage BlockDriver(ulong mmioBase = VirtioMmioLayout.Base)
    {
        const ulong origin = GuestLayout.ImageBase;
        uint b = checked((uint)mmioBase);
        var bytes = GuestAssembler.Assemble(32, origin, g =>
        {
            var a = g.Asm;
            var fail = new Iced.Intel.Label[6];
            for (int i = 1; i < fail.Length; i++) fail[i] = g.L($"fail{i}");
            a.cld();
            Negotiate(g, b, VirtioBlock.BlockDeviceType, 1u << VirtioBlock.FeatureFlush, fail[1], fail[2]);
            Reg(g, b, VirtioMmioRegister.QueueSel, 0);
            Reg(g, b, VirtioMmioRegister.QueueNum, QueueSize);
            Reg(g, b, VirtioMmioRegister.QueueDescLow, Desc);
            Reg(g, b, VirtioMmioRegister.QueueDescHigh, 0);
            Reg(g, b, VirtioMmioRegister.QueueDriverLow, Avail);
            Reg(g, b, VirtioMmioRegister.QueueDriverHigh, 0);
            Reg(g, b, VirtioMmioRegister.QueueDeviceLow, Used);
            Reg(g, b, VirtioMmioRegister.QueueDeviceHigh, 0);
            Reg(g, b, VirtioMmioRegister.QueueReady, 1);
            Reg(g, b, VirtioMmioRegister.Status, 0xf);

            // Request 1: read ReadSector into ReadBuffer (descriptors 0-2).
            Header(g, 0, VirtioBlock.RequestIn, ReadSector);
            Descriptor(g, 0, Headers, 16, Next, 1);
            Descriptor(g, 1, ReadBuffer, 512, Next | Write, 2);
            Descriptor(g, 2, Statuses, 1, Write, 0);
            Submit(g, b, slot: 0, head: 0, status: Statuses, fail[3]);
            a.mov(eax, __dword_ptr[ReadBuffer]);
            a.mov(ebp, eax);

            // Request 2: write WrittenSector from WriteBuffer (descriptors 3-5).
            a.mov(edi, WriteBuffer);
            a.mov(eax, WrittenPattern);
            a.mov(ecx, 128);
            a.rep.stosd();
            Header(g, 1, VirtioBlock.RequestOut, WrittenSector);
            Descriptor(g, 3, Headers + 16, 16, Next, 4);
            Descriptor(g, 4, WriteBuffer, 512, Next, 5);
            Descriptor(g, 5, Statuses + 1, 1, Write, 0);
            Submit(g, b, slot: 1, head: 3, status: Statuses + 1, fail[4]);

            // Request 3: flush (descriptors 6-7).
            Header(g, 2, VirtioBlock.RequestFlush, 0);
            Descriptor(g, 6, Headers + 32, 16, Next, 7);
            Descriptor(g, 7, Statuses + 2, 1, Write, 0);
            Submit(g, b, slot: 2, head: 6, status: Statuses + 2, fail[5]);

            g.Print("virtio-blk read=");
            a.mov(eax, ebp);
            g.PrintHex32();
            g.Print(" ok\n");
            a.mov(al, 0);
            g.DebugExitWithAl();
            for (int i = 1; i < fail.Length; i++)
            {
                g.Mark($"fail{i}");
                g.Print($"virtio-blk fail {i}\n");
                a.mov(al, (byte)i);
                g.DebugExitWithAl();
            }
        });
        return new GuestImage("virtio-blk-driver", bytes, origin, origin, BootMode.Protected, 1,
            $"protected mode: drives the virtio-blk device at 0x{mmioBase:x} (read sector {ReadSector}, write sector {WrittenSector}, flush), polling its used ring")
        {
            ExpectedResultCode = 0,
        };
    }

    /// <summary>The IPv4 address <see cref="NetArpDriver"/> asks for (the host side of the tap).</summary>
    public static readonly byte[] ArpTarget = [10, 234, 0, 1];
    /// <summary>The IPv4 address <see cref="NetArpDriver"/> claims.</summary>
    public static readonly byte[] ArpSender = [10, 234, 0, 2];

    /// <summary>
    /// Protected mode. Brings up the virtio-net card at <paramref name="mmioBase"/> (VERSION_1 and MAC negotiated, a
    /// receive queue and a transmit queue of 8 at fixed addresses), reads its MAC from the configuration space, posts
    /// one 2 KiB receive buffer and broadcasts an ARP request for <see cref="ArpTarget"/> from <see cref="ArpSender"/>,
    /// again after each spin of a few hundred thousand rounds without an answer (a tap that is not up yet drops
    /// frames), until a frame arrives. Prints "virtio-net arp reply from XXXXXXXX\n" (the replier's address as a
    /// little-endian dword) and exits with 0 if it is an ARP reply to the card; else prints "virtio-net fail N\n" and
    /// exits with N (1: not a version 2 network device, 2: features refused, 3: the frame is not an ARP reply to us).
    /// </summary>
    public static GuestImage NetArpDriver(ulong mmioBase = VirtioMmioLayout.Base)
    {
        const ulong origin = GuestLayout.ImageBase;
        const uint rxDesc = Desc, rxAvail = Avail, rxUsed = Used;
        const uint txDesc = Desc + 0x3000, txAvail = Desc + 0x4000, txUsed = Desc + 0x5000;
        const uint rxBuffer = Desc + 0x6000, txBuffer = Desc + 0x7000;
        const uint frame = txBuffer + VirtioNet.HeaderSize;
        uint b = checked((uint)mmioBase);
        var bytes = GuestAssembler.Assemble(32, origin, g =>
        {
            var a = g.Asm;
            var fail = new Iced.Intel.Label[4];
            for (int i = 1; i < fail.Length; i++) fail[i] = g.L($"fail{i}");
            a.cld();
            Negotiate(g, b, VirtioNet.NetDeviceType, 1u << VirtioNet.FeatureMac, fail[1], fail[2]);
            foreach (var (queue, desc, avail, used) in new[] { (0u, rxDesc, rxAvail, rxUsed), (1u, txDesc, txAvail, txUsed) })
            {
                Reg(g, b, VirtioMmioRegister.QueueSel, queue);
                Reg(g, b, VirtioMmioRegister.QueueNum, QueueSize);
                Reg(g, b, VirtioMmioRegister.QueueDescLow, desc);
                Reg(g, b, VirtioMmioRegister.QueueDriverLow, avail);
                Reg(g, b, VirtioMmioRegister.QueueDeviceLow, used);
                Reg(g, b, VirtioMmioRegister.QueueReady, 1);
            }
            Reg(g, b, VirtioMmioRegister.Status, 0xf);

            // The ARP request behind a zero header: broadcast, ethertype 0x0806, Ethernet/IPv4, request, our MAC and
            // address, the target's address.
            byte[] template =
            [
                .. new byte[VirtioNet.HeaderSize], 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0x08, 0x06,
                0, 1, 0x08, 0, 6, 4, 0, 1, 0, 0, 0, 0, 0, 0, .. ArpSender, 0, 0, 0, 0, 0, 0, .. ArpTarget,
            ];
            for (int i = 0; i < template.Length; i++) a.mov(__byte_ptr[txBuffer + (uint)i], template[i]);
            a.mov(eax, __dword_ptr[b + VirtioMmioRegister.Config]);
            a.mov(__dword_ptr[frame + 6], eax);
            a.mov(__dword_ptr[frame + 22], eax);
            a.mov(ax, __word_ptr[b + VirtioMmioRegister.Config + 4]);
            a.mov(__word_ptr[frame + 10], ax);
            a.mov(__word_ptr[frame + 26], ax);
            Descriptor(g, rxDesc, 0, rxBuffer, 2048, Write, 0);
            a.mov(__word_ptr[rxAvail + 4], 0);
            a.mov(__word_ptr[rxAvail + 2], 1);
            Reg(g, b, VirtioMmioRegister.QueueNotify, 0);
            Descriptor(g, txDesc, 0, txBuffer, (uint)template.Length, 0, 0);

            // esi counts the requests made available; each goes in avail slot esi % 8, all naming descriptor 0.
            a.xor(esi, esi);
            var send = a.CreateLabel();
            var wait = a.CreateLabel();
            var got = a.CreateLabel();
            a.Label(ref send);
            a.mov(eax, esi);
            a.and(eax, QueueSize - 1);
            a.mov(__word_ptr[eax * 2 + (txAvail + 4)], 0);
            a.inc(esi);
            a.mov(__word_ptr[txAvail + 2], si);
            Reg(g, b, VirtioMmioRegister.QueueNotify, 1);
            a.mov(ecx, 300_000);
            a.Label(ref wait);
            a.pause();
            a.cmp(__word_ptr[rxUsed + 2], 0);
            a.jne(got);
            a.dec(ecx);
            a.jnz(wait);
            a.jmp(send);

            a.Label(ref got);
            a.cmp(__word_ptr[rxBuffer + VirtioNet.HeaderSize + 12], 0x0608); // ethertype 0x0806, big-endian
            a.jne(fail[3]);
            a.cmp(__word_ptr[rxBuffer + VirtioNet.HeaderSize + 20], 0x0200); // operation 2: reply
            a.jne(fail[3]);
            a.mov(eax, __dword_ptr[b + VirtioMmioRegister.Config]);
            a.cmp(__dword_ptr[rxBuffer + VirtioNet.HeaderSize + 32], eax); // target hardware address: ours
            a.jne(fail[3]);
            g.Print("virtio-net arp reply from ");
            a.mov(eax, __dword_ptr[rxBuffer + VirtioNet.HeaderSize + 28]);
            g.PrintHex32();
            g.Print("\n");
            a.mov(al, 0);
            g.DebugExitWithAl();
            for (int i = 1; i < fail.Length; i++)
            {
                g.Mark($"fail{i}");
                g.Print($"virtio-net fail {i}\n");
                a.mov(al, (byte)i);
                g.DebugExitWithAl();
            }
        });
        return new GuestImage("virtio-net-arp", bytes, origin, origin, BootMode.Protected, 1,
            $"protected mode: drives the virtio-net card at 0x{mmioBase:x}, broadcasting an ARP request until a frame comes back, polling its used rings")
        {
            ExpectedResultCode = 0,
        };
    }

    // Reset, ACKNOWLEDGE and DRIVER; a version 2 device of `deviceType` or `notDevice`; VERSION_1 and `features` (the low
    // word) written and FEATURES_OK set, or `refused` if the device clears it.
    private static void Negotiate(GuestAssembler g, uint b, uint deviceType, uint features, Iced.Intel.Label notDevice, Iced.Intel.Label refused)
    {
        var a = g.Asm;
        Reg(g, b, VirtioMmioRegister.Status, 0);
        Reg(g, b, VirtioMmioRegister.Status, 1);
        Reg(g, b, VirtioMmioRegister.Status, 3);
        a.cmp(__dword_ptr[b + VirtioMmioRegister.MagicValue], VirtioMmioRegister.Magic);
        a.jne(notDevice);
        a.cmp(__dword_ptr[b + VirtioMmioRegister.Version], 2);
        a.jne(notDevice);
        a.cmp(__dword_ptr[b + VirtioMmioRegister.DeviceId], (int)deviceType);
        a.jne(notDevice);
        Reg(g, b, VirtioMmioRegister.DriverFeaturesSel, 1);
        Reg(g, b, VirtioMmioRegister.DriverFeatures, 1u << (VirtioFeature.Version1 - 32));
        Reg(g, b, VirtioMmioRegister.DriverFeaturesSel, 0);
        Reg(g, b, VirtioMmioRegister.DriverFeatures, features);
        Reg(g, b, VirtioMmioRegister.Status, 0xb);
        a.mov(eax, __dword_ptr[b + VirtioMmioRegister.Status]);
        a.test(eax, 8);
        a.jz(refused);
    }

    private static void Reg(GuestAssembler g, uint mmioBase, uint register, uint value) =>
        g.Asm.mov(__dword_ptr[mmioBase + register], value);

    private static void Header(GuestAssembler g, int index, uint type, ulong sector)
    {
        uint at = Headers + (uint)index * 16;
        g.Asm.mov(__dword_ptr[at], type);
        g.Asm.mov(__dword_ptr[at + 4], 0);
        g.Asm.mov(__dword_ptr[at + 8], (uint)sector);
        g.Asm.mov(__dword_ptr[at + 12], (uint)(sector >> 32));
    }

    private static void Descriptor(GuestAssembler g, int index, uint address, uint length, int flags, int next) =>
        Descriptor(g, Desc, index, address, length, flags, next);

    private static void Descriptor(GuestAssembler g, uint table, int index, uint address, uint length, int flags, int next)
    {
        uint at = table + (uint)index * SplitVirtqueue.DescriptorSize;
        g.Asm.mov(__dword_ptr[at], address);
        g.Asm.mov(__dword_ptr[at + 4], 0);
        g.Asm.mov(__dword_ptr[at + 8], length);
        g.Asm.mov(__dword_ptr[at + 12], (uint)(flags | next << 16));
    }

    // Puts the chain at avail slot `slot`, publishes avail idx = slot + 1, notifies queue 0 and spins until the used
    // index reaches slot + 1; then checks the status byte.
    private static void Submit(GuestAssembler g, uint mmioBase, int slot, int head, uint status, Iced.Intel.Label fail)
    {
        var a = g.Asm;
        a.mov(__byte_ptr[status], 0xff);
        a.mov(__word_ptr[Avail + 4 + (uint)slot * 2], (ushort)head);
        a.mov(__word_ptr[Avail + 2], (ushort)(slot + 1));
        Reg(g, mmioBase, VirtioMmioRegister.QueueNotify, 0);
        var wait = a.CreateLabel();
        a.Label(ref wait);
        a.pause();
        a.cmp(__word_ptr[Used + 2], (ushort)(slot + 1));
        a.jne(wait);
        a.cmp(__byte_ptr[status], 0);
        a.jne(fail);
    }
}
