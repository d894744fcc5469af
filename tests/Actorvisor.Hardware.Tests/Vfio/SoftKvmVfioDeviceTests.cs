using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.Vfio;
using Tmds.Linux;

namespace Actorvisor.Hardware.Tests.Vfio;

/// <summary>
/// The runtime's KVM-VFIO device accepting files: stand-in VFIO files (<see cref="StandInVfioFiles"/>) take the
/// place of /dev/vfio groups, everything else is real (descriptors, references, identity by kcmp).
/// </summary>
public sealed class SoftKvmVfioDeviceTests : IDisposable
{
    private readonly StandInVfioFiles _vfio = new();

    public void Dispose() => _vfio.Dispose();

    [Fact]
    public void Add_takes_a_reference_of_its_own_and_delete_drops_it()
    {
        var path = _vfio.CreateGroup("7");
        using var device = new SoftKvmVfioDevice(_vfio);
        using (var group = Sys.Open(path, LibC.O_RDWR))
        {
            device.AddFile(group);
            Assert.Equal(2, StandInVfioFiles.OpenDescriptors(path));
            var file = Assert.Single(device.Files);
            Assert.Equal(path, file.Name);
            Assert.Equal(VfioFileKind.Group, file.Classification.Kind);
        }
        // The caller closed its descriptor; the device still holds the file (fget).
        Assert.Equal(1, StandInVfioFiles.OpenDescriptors(path));

        using var again = Sys.Open(path, LibC.O_RDWR);
        // A new open is a new file: not the attached one.
        Assert.Equal(KvmVfioFailure.NotAttached, Assert.Throws<KvmVfioException>(() => device.DeleteFile(again)).Failure);
    }

    [Fact]
    public void The_same_file_twice_is_refused_with_eexist_also_through_a_dup()
    {
        var path = _vfio.CreateGroup("3");
        using var device = new SoftKvmVfioDevice(_vfio);
        using var group = Sys.Open(path, LibC.O_RDWR);
        using var dup = OpenFileDescription.Duplicate(group, "dup of group 3");
        device.AddFile(group);

        var same = Assert.Throws<KvmVfioException>(() => device.AddFile(group));
        Assert.Equal((KvmVfioFailure.AlreadyAttached, Errnos.EEXIST), (same.Failure, same.Errno));
        Assert.Equal($"KVM_DEV_VFIO_FILE_ADD {path}: EEXIST: this file is already attached to the VM's KVM-VFIO device", same.Message);
        Assert.Equal(KvmVfioFailure.AlreadyAttached, Assert.Throws<KvmVfioException>(() => device.AddFile(dup)).Failure);
        Assert.Single(device.Files);
        // The refused adds left no reference behind.
        Assert.Equal(3, StandInVfioFiles.OpenDescriptors(path));
    }

    [Fact]
    public void Delete_detaches_and_a_second_delete_is_enoent()
    {
        var a = _vfio.CreateGroup("1");
        var b = _vfio.CreateDevice("vfio0");
        using var device = new SoftKvmVfioDevice(_vfio);
        using var fa = Sys.Open(a, LibC.O_RDWR);
        using var fb = Sys.Open(b, LibC.O_RDWR);
        device.AddFile(fa);
        device.AddFile(fb);
        Assert.Equal([a, b], device.Files.Select(f => f.Name));

        device.DeleteFile(fa);
        Assert.Equal([b], device.Files.Select(f => f.Name));
        Assert.Equal(1, StandInVfioFiles.OpenDescriptors(a)); // only the caller's own
        var e = Assert.Throws<KvmVfioException>(() => device.DeleteFile(fa));
        Assert.Equal((KvmVfioFailure.NotAttached, Errnos.ENOENT), (e.Failure, e.Errno));
    }

    [Fact]
    public void Non_coherent_dma_is_recomputed_from_every_file_on_every_change()
    {
        var coherent = _vfio.CreateGroup("10", coherent: true);
        var nonCoherent = _vfio.CreateGroup("11", coherent: false);
        var later = _vfio.CreateGroup("12", coherent: true);
        using var device = new SoftKvmVfioDevice(_vfio);
        using var c = Sys.Open(coherent, LibC.O_RDWR);
        using var n = Sys.Open(nonCoherent, LibC.O_RDWR);
        using var l = Sys.Open(later, LibC.O_RDWR);

        device.AddFile(c);
        Assert.False(device.NonCoherentDma);
        device.AddFile(n);
        Assert.True(device.NonCoherentDma);
        device.DeleteFile(n);
        Assert.False(device.NonCoherentDma);

        // The answer for an attached file changes (its group moved to a non-coherent IOMMU): the next change
        // of the list, even one about another file, asks every file again.
        _vfio.SetCoherent(coherent, false);
        Assert.False(device.NonCoherentDma);
        device.AddFile(l);
        Assert.True(device.NonCoherentDma);
        Assert.False(device.Files.Single(f => f.Name == coherent).Coherency.EnforcedCoherent);
    }

    [Fact]
    public void Disposing_the_device_releases_every_file()
    {
        var a = _vfio.CreateGroup("20");
        var b = _vfio.CreateGroup("21", coherent: false);
        var device = new SoftKvmVfioDevice(_vfio);
        using (var fa = Sys.Open(a, LibC.O_RDWR)) device.AddFile(fa);
        using (var fb = Sys.Open(b, LibC.O_RDWR)) device.AddFile(fb);
        Assert.Equal((1, 1), (StandInVfioFiles.OpenDescriptors(a), StandInVfioFiles.OpenDescriptors(b)));
        Assert.True(device.NonCoherentDma);

        device.Dispose();
        Assert.Equal((0, 0), (StandInVfioFiles.OpenDescriptors(a), StandInVfioFiles.OpenDescriptors(b)));
        Assert.Empty(device.Files);
        Assert.False(device.NonCoherentDma);
        using var devNull = Sys.Open("/dev/null", LibC.O_RDWR);
        Assert.Throws<ObjectDisposedException>(() => device.AddFile(devNull));
    }

    [FileFact(VfioIoctls.ContainerPath, "the vfio module is not loaded (the rule is also covered by VfioFileClassifierTests)")]
    public void The_vfio_container_is_refused_even_though_it_is_vfio()
    {
        using var device = new SoftKvmVfioDevice(VfioFileInspector.Instance);
        using var container = Sys.Open(VfioIoctls.ContainerPath, LibC.O_RDWR);
        var e = Assert.Throws<KvmVfioException>(() => device.AddFile(container));
        Assert.Equal(KvmVfioFailure.NotVfioFile, e.Failure);
        Assert.Contains("not the container", e.Message);
    }
}
