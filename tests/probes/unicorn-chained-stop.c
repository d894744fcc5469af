// Probe: with a UC_HOOK_CODE installed, does uc_emu_stop from a UC_HOOK_BLOCK hook at the start of a TB that was
// entered through a chained direct jump leave RIP at that TB's start, or at the previous TB's last instruction?
// And: the same stop from the code hook of that TB's first instruction, and from a block hook without a code hook.
// Build: gcc unicorn-chained-stop.c -o chained-stop -lunicorn (libunicorn-dev). Seen with 2.0.1: mode 0 resumes at
// the CALL (rip 0x1003) and leaves RSP 8 low at the end; modes 1 and 2 resume at 0x1010 and end with RSP 0x8800.
#include <unicorn/unicorn.h>
#include <stdio.h>
#include <string.h>
static int entries, stop_at, mode; // mode 0: stop from block hook, 1: stop from code hook
static uint64_t F = 0x1010;
static void block_hook(uc_engine *uc, uint64_t a, uint32_t s, void *ud){
  if (mode != 1 && a == F && ++entries == stop_at) uc_emu_stop(uc); }
static void code_hook(uc_engine *uc, uint64_t a, uint32_t s, void *ud){
  if (mode == 1 && a == F && ++entries == stop_at) uc_emu_stop(uc); }
int main(int argc, char**argv){
  for (mode = 0; mode < 3; mode++) {
    entries = 0; stop_at = 500;
    uc_engine *uc; uc_open(UC_ARCH_X86, UC_MODE_64, &uc);
    // 0x1000 L: inc rcx ; call F(0x1010) ; (never returns here: F drops the return address)
    // 0x1010 F: inc rdx ; add rsp,8 ; cmp rdx,1000 ; jne L ; hlt
    unsigned char code[0x40]; memset(code, 0x90, sizeof code);
    unsigned char a[] = {0x48,0xFF,0xC1, 0xE8,0x08,0,0,0};          // inc rcx; call +8 -> 0x1010
    unsigned char f[] = {0x48,0xFF,0xC2, 0x48,0x83,0xC4,0x08, 0x48,0x81,0xFA,0xE8,0x03,0,0, 0x75,0xE0, 0xF4};
    memcpy(code, a, sizeof a); memcpy(code+0x10, f, sizeof f);
    // jne rel8: from 0x1010+16=0x1020 back to 0x1000: -0x20 = 0xE0
    uc_mem_map(uc, 0x1000, 0x1000, UC_PROT_ALL); uc_mem_write(uc, 0x1000, code, sizeof code);
    uc_mem_map(uc, 0x8000, 0x1000, UC_PROT_ALL); uint64_t rsp = 0x8800; uc_reg_write(uc, UC_X86_REG_RSP, &rsp);
    uc_hook hb, hc;
    uc_hook_add(uc, &hb, UC_HOOK_BLOCK, (void*)block_hook, NULL, 1, 0);
    if (mode != 2) uc_hook_add(uc, &hc, UC_HOOK_CODE, (void*)code_hook, NULL, 1, 0);
    uint64_t rip = 0x1000; int stops = 0;
    for (;;) {
      uc_err e = uc_emu_start(uc, rip, 0x2000, 0, 0);
      uint64_t rcx, rdx; uc_reg_read(uc, UC_X86_REG_RIP, &rip); uc_reg_read(uc, UC_X86_REG_RCX, &rcx);
      uc_reg_read(uc, UC_X86_REG_RDX, &rdx); uc_reg_read(uc, UC_X86_REG_RSP, &rsp);
      printf("entries %d mode %d (%s): %s rip=%#lx rcx=%lu rdx=%lu rsp=%#lx\n", entries, mode, mode==0?"block-hook stop, code hook present":mode==1?"code-hook stop":"block-hook stop, no code hook",
             uc_strerror(e), rip, rcx, rdx, rsp);
      if (e != UC_ERR_OK || rip == 0x1021 || rip == 0x1020 || ++stops > 3) break;
    }
    uc_close(uc);
  }
}
