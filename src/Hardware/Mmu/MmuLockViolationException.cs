namespace Actorvisor.Hardware.Mmu;

/// <summary>
/// A thread broke a rule of mmu_lock: it took another MMU-level lock (or the same one again), sent a
/// message or blocked on another lock while holding it, or took it while its vCPU is in guest mode (which
/// would deadlock against a TLB flush). The DESIGN rule: real locks are leaves.
/// </summary>
public sealed class MmuLockViolationException(string message) : InvalidOperationException(message);
