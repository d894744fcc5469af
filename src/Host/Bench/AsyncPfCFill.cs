using System.Diagnostics;
using System.Globalization;

namespace Actorvisor.Host.Bench;

/// <summary>
/// The baseline of `bench asyncpf`'s fill figure: a minimal C program, built with gcc at bench time, that does
/// what the runtime's fill does page by page — pread(2) a page of the image, UFFDIO_COPY it into a region
/// registered with userfaultfd in missing mode — and prints the pages per second of that loop.
/// </summary>
public static class AsyncPfCFill
{
    private const string Source = """
        #define _GNU_SOURCE
        #include <fcntl.h>
        #include <linux/userfaultfd.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <sys/ioctl.h>
        #include <sys/mman.h>
        #include <sys/syscall.h>
        #include <time.h>
        #include <unistd.h>

        int main(int argc, char **argv) {
            if (argc != 3) { fprintf(stderr, "usage: fill IMAGE PAGES\n"); return 2; }
            long pages = atol(argv[2]);
            int fd = open(argv[1], O_RDONLY);
            if (fd < 0) { perror("open"); return 2; }
            int uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
            if (uffd < 0) { perror("userfaultfd"); return 2; }
            struct uffdio_api api = { .api = UFFD_API };
            if (ioctl(uffd, UFFDIO_API, &api)) { perror("UFFDIO_API"); return 2; }
            size_t len = (size_t)pages * 4096;
            char *mem = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (mem == MAP_FAILED) { perror("mmap"); return 2; }
            struct uffdio_register reg = { .range = { (unsigned long)mem, len }, .mode = UFFDIO_REGISTER_MODE_MISSING };
            if (ioctl(uffd, UFFDIO_REGISTER, &reg)) { perror("UFFDIO_REGISTER"); return 2; }
            static char page[4096] __attribute__((aligned(4096)));
            struct timespec a, b;
            clock_gettime(CLOCK_MONOTONIC, &a);
            for (long i = 0; i < pages; i++) {
                if (pread(fd, page, 4096, (off_t)i * 4096) != 4096) { perror("pread"); return 2; }
                struct uffdio_copy copy = { .dst = (unsigned long)mem + i * 4096, .src = (unsigned long)page, .len = 4096, .mode = 0 };
                if (ioctl(uffd, UFFDIO_COPY, &copy)) { perror("UFFDIO_COPY"); return 2; }
            }
            clock_gettime(CLOCK_MONOTONIC, &b);
            double seconds = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
            printf("%.1f\n", pages / seconds);
            return 0;
        }
        """;

    /// <summary>
    /// Builds the program in <paramref name="workDir"/>. Returns its path, or null with <paramref name="problem"/>
    /// saying why (gcc missing or failing).
    /// </summary>
    public static string? Build(string workDir, out string? problem)
    {
        var source = Path.Combine(workDir, "uffd-fill.c");
        var binary = Path.Combine(workDir, "uffd-fill");
        File.WriteAllText(source, Source);
        var (code, output) = Exec("gcc", ["-O2", "-o", binary, source], out var started);
        if (!started)
        {
            problem = "gcc was not found on PATH; install gcc (Debian: apt-get install gcc) to measure the C baseline";
            return null;
        }
        if (code != 0)
        {
            problem = $"gcc failed (exit {code}): {output.Trim()}";
            return null;
        }
        problem = null;
        return binary;
    }

    /// <summary>Runs the built program on <paramref name="image"/> (<paramref name="pages"/> pages) and returns its pages per second.</summary>
    /// <exception cref="InvalidOperationException">the program failed; the message has its output.</exception>
    public static double Measure(string binary, string image, int pages)
    {
        var (code, output) = Exec(binary, [image, pages.ToString(CultureInfo.InvariantCulture)], out _);
        if (code != 0 || !double.TryParse(output.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double rate))
            throw new InvalidOperationException($"the C fill loop failed (exit {code}): {output.Trim()}");
        return rate;
    }

    private static (int Code, string Output) Exec(string file, string[] args, out bool started)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        Process? process;
        try
        {
            process = Process.Start(info);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            started = false;
            return (-1, "");
        }
        started = process is not null;
        if (process is null) return (-1, "");
        using (process)
        {
            var stderr = process.StandardError.ReadToEndAsync();
            string stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, stdout + stderr.Result);
        }
    }
}
