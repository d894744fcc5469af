namespace Actorvisor.Hardware.Cgroups;

/// <summary>
/// A group of kernel threads that share a resource limit (one VM's vCPU threads in their cgroup). Threads join it
/// by their kernel thread id; disposing it ends the group once its threads have ended.
/// </summary>
public interface IThreadGroup : IDisposable
{
    /// <summary>Moves the thread <paramref name="kernelThreadId"/> (gettid) into the group.</summary>
    void Add(int kernelThreadId);
}
