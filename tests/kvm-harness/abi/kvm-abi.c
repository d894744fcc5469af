/* Prints the sizes, field offsets, ioctl numbers and constants of the KVM ABI that Actorvisor uses,
 * as the installed kernel headers (linux-libc-dev) define them. The expected values in
 * tests/Actorvisor.Hardware.Tests/Kvm/KvmAbiLayoutTests.cs come from its output:
 *   gcc tests/kvm-harness/abi/kvm-abi.c -o /tmp/kvm-abi && /tmp/kvm-abi */
#include <stdio.h>
#include <stddef.h>
#include <linux/kvm.h>
#define S(t) printf("size %s %zu\n", #t, sizeof(struct t))
#define O(t,f) printf("off %s.%s %zu\n", #t, #f, offsetof(struct t, f))
int main(){
S(kvm_userspace_memory_region); O(kvm_userspace_memory_region,slot);O(kvm_userspace_memory_region,flags);O(kvm_userspace_memory_region,guest_phys_addr);O(kvm_userspace_memory_region,memory_size);O(kvm_userspace_memory_region,userspace_addr);
S(kvm_regs); O(kvm_regs,rax);O(kvm_regs,rbx);O(kvm_regs,rcx);O(kvm_regs,rdx);O(kvm_regs,rsi);O(kvm_regs,rdi);O(kvm_regs,rsp);O(kvm_regs,rbp);O(kvm_regs,r8);O(kvm_regs,r15);O(kvm_regs,rip);O(kvm_regs,rflags);
S(kvm_segment); O(kvm_segment,base);O(kvm_segment,limit);O(kvm_segment,selector);O(kvm_segment,type);O(kvm_segment,present);O(kvm_segment,dpl);O(kvm_segment,db);O(kvm_segment,s);O(kvm_segment,l);O(kvm_segment,g);O(kvm_segment,avl);O(kvm_segment,unusable);O(kvm_segment,padding);
S(kvm_dtable); O(kvm_dtable,base);O(kvm_dtable,limit);O(kvm_dtable,padding);
S(kvm_sregs); O(kvm_sregs,cs);O(kvm_sregs,ds);O(kvm_sregs,es);O(kvm_sregs,fs);O(kvm_sregs,gs);O(kvm_sregs,ss);O(kvm_sregs,tr);O(kvm_sregs,ldt);O(kvm_sregs,gdt);O(kvm_sregs,idt);O(kvm_sregs,cr0);O(kvm_sregs,cr2);O(kvm_sregs,cr3);O(kvm_sregs,cr4);O(kvm_sregs,cr8);O(kvm_sregs,efer);O(kvm_sregs,apic_base);O(kvm_sregs,interrupt_bitmap);
S(kvm_run); O(kvm_run,request_interrupt_window);O(kvm_run,immediate_exit);O(kvm_run,exit_reason);O(kvm_run,ready_for_interrupt_injection);O(kvm_run,if_flag);O(kvm_run,flags);O(kvm_run,cr8);O(kvm_run,apic_base);O(kvm_run,hw);O(kvm_run,fail_entry);O(kvm_run,io);O(kvm_run,mmio);O(kvm_run,internal);O(kvm_run,kvm_valid_regs);O(kvm_run,kvm_dirty_regs);O(kvm_run,s);
O(kvm_run,fail_entry.hardware_entry_failure_reason);O(kvm_run,fail_entry.cpu);
O(kvm_run,io.direction);O(kvm_run,io.size);O(kvm_run,io.port);O(kvm_run,io.count);O(kvm_run,io.data_offset);
O(kvm_run,mmio.phys_addr);O(kvm_run,mmio.data);O(kvm_run,mmio.len);O(kvm_run,mmio.is_write);
O(kvm_run,internal.suberror);O(kvm_run,internal.ndata);O(kvm_run,internal.data);
S(kvm_cpuid2); O(kvm_cpuid2,nent);O(kvm_cpuid2,padding);O(kvm_cpuid2,entries);
S(kvm_cpuid_entry2); O(kvm_cpuid_entry2,function);O(kvm_cpuid_entry2,index);O(kvm_cpuid_entry2,flags);O(kvm_cpuid_entry2,eax);O(kvm_cpuid_entry2,ebx);O(kvm_cpuid_entry2,ecx);O(kvm_cpuid_entry2,edx);O(kvm_cpuid_entry2,padding);
S(kvm_dirty_log); O(kvm_dirty_log,slot);O(kvm_dirty_log,padding1);O(kvm_dirty_log,dirty_bitmap);
S(kvm_create_device); O(kvm_create_device,type);O(kvm_create_device,fd);O(kvm_create_device,flags);
S(kvm_device_attr); O(kvm_device_attr,flags);O(kvm_device_attr,group);O(kvm_device_attr,attr);O(kvm_device_attr,addr);
S(kvm_irq_level); O(kvm_irq_level,irq);O(kvm_irq_level,level);
S(kvm_pit_config); S(kvm_lapic_state); S(kvm_msrs); S(kvm_msr_entry); O(kvm_msr_entry,index);O(kvm_msr_entry,reserved);O(kvm_msr_entry,data);
S(kvm_fpu); O(kvm_fpu,fcw);O(kvm_fpu,fsw);O(kvm_fpu,ftwx);O(kvm_fpu,last_opcode);O(kvm_fpu,last_ip);O(kvm_fpu,last_dp);O(kvm_fpu,xmm);O(kvm_fpu,mxcsr);
S(kvm_mp_state);
#define I(x) printf("ioctl %s 0x%lx\n", #x, (unsigned long)(x))
I(KVM_GET_API_VERSION);I(KVM_CREATE_VM);I(KVM_CHECK_EXTENSION);I(KVM_GET_VCPU_MMAP_SIZE);I(KVM_GET_SUPPORTED_CPUID);
I(KVM_SET_USER_MEMORY_REGION);I(KVM_CREATE_VCPU);I(KVM_GET_DIRTY_LOG);I(KVM_SET_TSS_ADDR);I(KVM_SET_IDENTITY_MAP_ADDR);I(KVM_CREATE_DEVICE);
I(KVM_RUN);I(KVM_GET_REGS);I(KVM_SET_REGS);I(KVM_GET_SREGS);I(KVM_SET_SREGS);I(KVM_SET_CPUID2);I(KVM_GET_CPUID2);
I(KVM_SET_DEVICE_ATTR);I(KVM_GET_DEVICE_ATTR);I(KVM_HAS_DEVICE_ATTR);I(KVM_CREATE_IRQCHIP);I(KVM_ENABLE_CAP);I(KVM_SET_SIGNAL_MASK);
I(KVM_IRQ_LINE);I(KVM_CREATE_PIT2);I(KVM_REINJECT_CONTROL);I(KVM_GET_MSRS);I(KVM_SET_MSRS);I(KVM_GET_FPU);I(KVM_SET_FPU);I(KVM_GET_LAPIC);I(KVM_SET_LAPIC);I(KVM_GET_MP_STATE);I(KVM_SET_MP_STATE);
printf("exit IO=%d MMIO=%d HLT=%d SHUTDOWN=%d FAIL_ENTRY=%d INTR=%d INTERNAL=%d UNKNOWN=%d EXCEPTION=%d DEBUG=%d SYSTEM_EVENT=%d\n",KVM_EXIT_IO,KVM_EXIT_MMIO,KVM_EXIT_HLT,KVM_EXIT_SHUTDOWN,KVM_EXIT_FAIL_ENTRY,KVM_EXIT_INTR,KVM_EXIT_INTERNAL_ERROR,KVM_EXIT_UNKNOWN,KVM_EXIT_EXCEPTION,KVM_EXIT_DEBUG,KVM_EXIT_SYSTEM_EVENT);
printf("caps USER_MEMORY=%d SET_TSS_ADDR=%d NR_VCPUS=%d MAX_VCPUS=%d NR_MEMSLOTS=%d IMMEDIATE_EXIT=%d READONLY_MEM=%d EXT_CPUID=%d IRQCHIP=%d DEVICE_CTRL=%d MANUAL_DIRTY_LOG_PROTECT2=%d DIRTY_LOG_RING=%d SET_IDENTITY_MAP_ADDR=%d MP_STATE=%d KVMCLOCK_CTRL=%d ASYNC_PF=%d X86_ROBUST_SINGLESTEP=%d HLT=%d COALESCED_MMIO=%d IOEVENTFD=%d IRQFD=%d SYNC_REGS=%d CHECK_EXTENSION_VM=%d ENABLE_CAP_VM=%d ENABLE_CAP=%d\n",KVM_CAP_USER_MEMORY,KVM_CAP_SET_TSS_ADDR,KVM_CAP_NR_VCPUS,KVM_CAP_MAX_VCPUS,KVM_CAP_NR_MEMSLOTS,KVM_CAP_IMMEDIATE_EXIT,KVM_CAP_READONLY_MEM,KVM_CAP_EXT_CPUID,KVM_CAP_IRQCHIP,KVM_CAP_DEVICE_CTRL,KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,KVM_CAP_DIRTY_LOG_RING,KVM_CAP_SET_IDENTITY_MAP_ADDR,KVM_CAP_MP_STATE,KVM_CAP_KVMCLOCK_CTRL,KVM_CAP_ASYNC_PF,KVM_CAP_X86_ROBUST_SINGLESTEP,KVM_CAP_HLT,KVM_CAP_COALESCED_MMIO,KVM_CAP_IOEVENTFD,KVM_CAP_IRQFD,KVM_CAP_SYNC_REGS,KVM_CAP_CHECK_EXTENSION_VM,KVM_CAP_ENABLE_CAP_VM,KVM_CAP_ENABLE_CAP);
printf("devs VFIO=%d dev_vfio_file=%d add=%d del=%d\n", KVM_DEV_TYPE_VFIO, KVM_DEV_VFIO_GROUP, KVM_DEV_VFIO_GROUP_ADD, KVM_DEV_VFIO_GROUP_DEL);
printf("KVM_CREATE_DEVICE_TEST=%d KVM_MAX_CPUID_ENTRIES? internal data n=%zu\n", KVM_CREATE_DEVICE_TEST, sizeof(((struct kvm_run*)0)->internal.data)/8);
}
