#include "pstats.h"
#include <string.h>
#include <stdlib.h>
void moth_pstats_init(moth_pstats *s){memset(s,0,sizeof *s);}
void moth_pstats_free(moth_pstats *s){moth_funcs_free(&s->funcs);}
int moth_pstats_from_profile(moth_pstats *s, const moth_profile *p, moth_error *err){(void)s;(void)p;(void)err;return 0;}
int moth_pstats_write_file(const moth_pstats *s, const char *path, moth_error *err){(void)s;(void)path;return moth_fail(err,"stub");}
int moth_sort_spec_parse(moth_sort_spec *spec, const char *const *keys, size_t nkeys, moth_error *err){(void)keys;(void)nkeys;(void)err;memset(spec,0,sizeof *spec);return 0;}
int moth_pstats_strip_dirs(moth_pstats *s, moth_error *err){(void)s;(void)err;return 0;}
int moth_report_stats(const moth_pstats *s, const moth_report_opts *o, moth_sb *out, moth_error *err){(void)s;(void)o;(void)err;moth_sb_puts(out,"(stub table)\n");return 0;}
