using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Images.Linux;
using Actorvisor.Hardware.Kvm;
using Actorvisor.Hardware.Machines;

namespace Actorvisor.Kvm.Tests.Linux;

/// <summary>
/// Boots the L1's Debian kernel with a virtio-vsock device (guest CID 42, announced in the ACPI DSDT) and has a host
/// process and the guest talk both ways over it: the initramfs loads virtio_mmio and vmw_vsock_virtio_transport, and a
/// tiny static C helper built here with gcc (busybox has no vsock support) listens on guest port 1234 and connects to
/// host port 5000. The test connects to the VM's Unix socket with <c>CONNECT 1234</c> and exchanges a line with the guest,
/// and answers the guest's connection on the Unix socket <c>SOCKET_5000</c>.
/// </summary>
public sealed class LinuxVirtioVsockTests : IDisposable
{
    private const ulong MemoryBytes = 256UL << 20;
    private const ulong GuestCid = 42;
    private const uint GuestPort = 1234, HostPort = 5000;
    // Measured in the nested harness on the shared 2-core machine: a boot of this kernel to the marker takes 45-57 s on
    // one vCPU (LinuxGuestBootTests); ten times that bounds the boot here.
    private static readonly TimeSpan BootBound = TimeSpan.FromSeconds(600);
    private const string CommandLine = "console=ttyS0 reboot=k panic=-1 pci=off quiet no_timer_check i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd";
    private static readonly string[] Modules = ["virtio_mmio", "vmw_vsock_virtio_transport"];

    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-vsock-").FullName;
    private readonly Stopwatch _sinceStart = Stopwatch.StartNew();
    private readonly Timer _heartbeat;

    // The harness fails an L1 whose console stays silent for KVM_HARNESS_SILENCE seconds; a nested boot can be quiet that long.
    public LinuxVirtioVsockTests() =>
        _heartbeat = new Timer(_ => Console.WriteLine($"KVMHARNESS linux-virtio-vsock: still running after {_sinceStart.Elapsed.TotalSeconds:0} s"),
            null, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30));

    public void Dispose()
    {
        _heartbeat.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    // listen PORT: accept one connection on PORT, answer its line with "guest-echo: LINE", print the line.
    // connect CID PORT MESSAGE: send MESSAGE and a newline to CID:PORT, print the answer line.
    private const string Helper = """
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <unistd.h>
        #include <sys/socket.h>
        #include <sys/time.h>
        #include <linux/vm_sockets.h>
        static int readline(int fd, char *buf, int size) {
          int n = 0;
          while (n < size - 1 && read(fd, buf + n, 1) == 1 && buf[n] != '\n') n++;
          buf[n] = 0;
          return n;
        }
        int main(int argc, char **argv) {
          struct sockaddr_vm a; memset(&a, 0, sizeof a); a.svm_family = AF_VSOCK;
          char line[256], out[300];
          int s = socket(AF_VSOCK, SOCK_STREAM, 0);
          if (s < 0) { perror("ACTORVISOR-FAILED socket"); return 1; }
          if (argc == 3 && !strcmp(argv[1], "listen")) {
            a.svm_cid = VMADDR_CID_ANY; a.svm_port = atoi(argv[2]);
            if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 1)) { perror("ACTORVISOR-FAILED bind"); return 1; }
            printf("ACTORVISOR-VSOCK-LISTENING %s\n", argv[2]); fflush(stdout);
            int c = accept(s, 0, 0);
            if (c < 0) { perror("ACTORVISOR-FAILED accept"); return 1; }
            readline(c, line, sizeof line);
            snprintf(out, sizeof out, "guest-echo: %s\n", line);
            write(c, out, strlen(out));
            printf("ACTORVISOR-VSOCK-GOT %s\n", line); fflush(stdout);
            close(c);
            return 0;
          }
          if (argc == 5 && !strcmp(argv[1], "connect")) {
            a.svm_cid = atoi(argv[2]); a.svm_port = atoi(argv[3]);
            /* The kernel gives up on a vsock connect after 2 s by default: a loaded CI run (load 150, the device's
               thread in an emulated L1) once answered later than that. Wait as long as the test's own bound. */
            struct timeval patience = { 300, 0 };
            if (setsockopt(s, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &patience, sizeof patience)) { perror("ACTORVISOR-FAILED setsockopt"); return 1; }
            if (connect(s, (struct sockaddr *)&a, sizeof a)) { perror("ACTORVISOR-FAILED connect"); return 1; }
            snprintf(out, sizeof out, "%s\n", argv[4]);
            write(s, out, strlen(out));
            readline(s, line, sizeof line);
            printf("ACTORVISOR-VSOCK-REPLY %s\n", line); fflush(stdout);
            close(s);
            return 0;
          }
          return 2;
        }
        """;

    [Fact]
    public async Task A_host_process_and_a_linux_guest_talk_both_ways_over_virtio_vsock()
    {
        var (kernel, release) = LinuxModules.Kernel();
        var moduleDir = $"/lib/modules/{release}";
        var initrd = Path.Combine(_dir, "initramfs.cpio");
        File.WriteAllBytes(initrd, BuildInitramfs(moduleDir, BuildHelper()));
        var socketPath = Path.Combine(_dir, "vm.vsock");

        // The guest's connection to host port 5000 lands on SOCKET_5000.
        using var hostListener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        hostListener.Bind(new UnixDomainSocketEndPoint($"{socketPath}_{HostPort}"));
        hostListener.Listen(1);
        var guestToHost = Task.Run(async () =>
        {
            using var c = await hostListener.AcceptAsync();
            var line = await ReadLineAsync(c);
            await c.SendAsync(Encoding.ASCII.GetBytes($"host-echo: {line}\n"));
            return line;
        });

        var console = new LineWatchingConsole("ACTORVISOR-VSOCK-LISTENING");
        using var accel = KvmAccelerator.Open();
        using var machine = Machine.Create(accel, new MachineSpec
        {
            Image = new LinuxKernelImage(kernel, initrd, CommandLine), MemoryBytes = MemoryBytes, VcpuCount = 1,
            Vsock = new VirtioVsockSpec { GuestCid = GuestCid, SocketPath = socketPath },
        }, console);
        var wall = Stopwatch.StartNew();
        var run = Task.Run(() => machine.Run(BootBound));

        // Host to guest: once the guest listens, CONNECT through the VM's socket.
        var listening = await Task.WhenAny(console.Seen, run);
        Assert.True(listening == console.Seen, $"the guest never listened: {(run.IsCompleted ? run.Result.ToString() : "")}; console tail:\n{Tail(console.Text)}");
        string okLine, echo;
        using (var host = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            await host.ConnectAsync(new UnixDomainSocketEndPoint(socketPath));
            await host.SendAsync(Encoding.ASCII.GetBytes($"CONNECT {GuestPort}\n"));
            okLine = await ReadLineAsync(host);
            await host.SendAsync("hello-from-host\n"u8.ToArray());
            echo = await ReadLineAsync(host);
        }
        var result = await run;
        var output = result.ConsoleOutput;
        Console.WriteLine($"KVMHARNESS linux-virtio-vsock: boot to reset in {wall.Elapsed.TotalSeconds:0.00} s; guest lines: " +
                          string.Join(" | ", output.Split('\n').Where(l => l.Contains("ACTORVISOR-", StringComparison.Ordinal)).Select(l => l.TrimEnd('\r'))));
        Assert.True(result.Outcome == MachineOutcome.Reset, $"outcome {result}; console tail:\n{Tail(output)}");
        Assert.DoesNotContain("ACTORVISOR-FAILED", output);

        Assert.Matches(@"^OK \d+$", okLine);
        Assert.Equal("guest-echo: hello-from-host", echo);
        Assert.Contains("ACTORVISOR-VSOCK-GOT hello-from-host", output);
        Assert.True(guestToHost.IsCompleted, "the guest never connected to host port 5000");
        Assert.Equal("hello-from-guest", await guestToHost);
        Assert.Contains("ACTORVISOR-VSOCK-REPLY host-echo: hello-from-guest", output);
        Assert.Equal(0, machine.Parts.Virtio.NotifyExitsToVcpu);
    }

    private static async Task<string> ReadLineAsync(Socket s)
    {
        var line = new StringBuilder();
        var b = new byte[1];
        while (await s.ReceiveAsync(b) == 1 && b[0] != '\n') line.Append((char)b[0]);
        return line.ToString();
    }

    // The helper, static, built with the L1's gcc and libc.a.
    private byte[] BuildHelper()
    {
        var source = Path.Combine(_dir, "vsock.c");
        var binary = Path.Combine(_dir, "vsock");
        File.WriteAllText(source, Helper);
        var info = new ProcessStartInfo("gcc") { RedirectStandardError = true };
        foreach (var a in new[] { "-static", "-O1", "-o", binary, source }) info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var errors = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"gcc -static failed ({p.ExitCode}): {errors}");
        return File.ReadAllBytes(binary);
    }

    private static byte[] BuildInitramfs(string moduleDir, byte[] helper)
    {
        var order = LinuxModules.LoadOrder(moduleDir, Modules);
        var init = $$"""
            #!/bin/busybox sh
            /bin/busybox --install -s /bin
            export PATH=/bin
            mkdir -p /proc /sys
            mount -t proc proc /proc
            mount -t sysfs sys /sys
            mount -t devtmpfs dev /dev
            for m in $(cat /modules.order); do insmod /modules/$m || echo "ACTORVISOR-FAILED insmod $m"; done
            i=0
            while ! ls /sys/bus/virtio/drivers/vmw_vsock_virtio_transport/ 2>/dev/null | grep -q virtio && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
            /vsock listen {{GuestPort}} &
            listener=$!
            /vsock connect 2 {{HostPort}} hello-from-guest
            wait $listener
            reboot -f
            """;
        var archive = new NewcArchive()
            .Directory("bin").Directory("dev").Directory("proc").Directory("modules")
            .CharacterDevice("dev/console", 5, 1)
            .File("bin/busybox", File.ReadAllBytes("/usr/bin/busybox"))
            .File("vsock", helper)
            .File("init", Encoding.ASCII.GetBytes(init.Replace("\r\n", "\n") + "\n"))
            .File("modules.order", Encoding.ASCII.GetBytes(string.Join('\n', order.Select(Path.GetFileName)) + "\n"), 0x1a4);
        foreach (var path in order) archive.File("modules/" + Path.GetFileName(path), File.ReadAllBytes(Path.Combine(moduleDir, path)), 0x1a4);
        return archive.Build();
    }

    private static string Tail(string output) => output.Length > 4000 ? output[^4000..] : output;

    /// <summary>Collects the console and completes <see cref="Seen"/> once a whole line holds the marker.</summary>
    private sealed class LineWatchingConsole(string marker) : IConsoleSink
    {
        private readonly object _gate = new();
        private readonly StringBuilder _text = new();
        private readonly TaskCompletionSource _seen = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Seen => _seen.Task;

        public string Text
        {
            get { lock (_gate) return _text.ToString(); }
        }

        public void Write(ReadOnlySpan<byte> bytes)
        {
            lock (_gate)
            {
                _text.Append(Encoding.Latin1.GetString(bytes));
                if (_seen.Task.IsCompleted) return;
                var all = _text.ToString();
                int at = all.IndexOf(marker, StringComparison.Ordinal);
                if (at >= 0 && all.IndexOf('\n', at) >= 0) _seen.TrySetResult();
            }
        }
    }
}
