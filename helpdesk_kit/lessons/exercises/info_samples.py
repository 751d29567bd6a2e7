"""Two texts of ``INFO`` as a redis-server 7.0 answered it, for lesson 08's exercise.

A real server's ``INFO``: six of its default sections (Server, Memory, Stats, an empty
Modules, Errorstats, Keyspace), without the lines that name the machine it ran on. They let
the exercise be checked where there is no ``INFO`` to ask (fakeredis): ``NO_LIMIT`` as the
server answered (``maxmemory:0``), ``WITH_LIMIT`` the same text with a memory limit set and
three quarters of it used - the seed's ``memory_utilization: 75%``. Lines end with ``\\r\\n``,
as Redis sends them.
"""

from __future__ import annotations

__all__ = ["NO_LIMIT", "WITH_LIMIT"]

_LINES = """# Server
redis_version:7.0.15
redis_git_sha1:00000000
redis_git_dirty:0
redis_build_id:ae4d7c971a948f0
redis_mode:standalone
arch_bits:64
monotonic_clock:POSIX clock_gettime
multiplexing_api:epoll
atomicvar_api:c11-builtin
gcc_version:12.2.0
process_supervised:no
tcp_port:0
server_time_usec:1796515725359786
uptime_in_seconds:1
uptime_in_days:0
hz:10
configured_hz:10
lru_clock:1353613
io_threads_active:0

# Memory
used_memory:958536
used_memory_human:936.07K
used_memory_rss:12333056
used_memory_rss_human:11.76M
used_memory_peak:971568
used_memory_peak_human:948.80K
used_memory_peak_perc:98.66%
used_memory_overhead:901472
used_memory_startup:876120
used_memory_dataset:57064
used_memory_dataset_perc:69.24%
allocator_allocated:1763680
allocator_active:1908736
allocator_resident:4579328
total_system_memory:25276194816
total_system_memory_human:23.54G
used_memory_lua:32768
used_memory_vm_eval:32768
used_memory_lua_human:32.00K
used_memory_scripts_eval:0
number_of_cached_scripts:0
number_of_functions:0
number_of_libraries:0
used_memory_vm_functions:33792
used_memory_vm_total:66560
used_memory_vm_total_human:65.00K
used_memory_functions:200
used_memory_scripts:200
used_memory_scripts_human:200B
maxmemory:0
maxmemory_human:0B
maxmemory_policy:noeviction
allocator_frag_ratio:1.08
allocator_frag_bytes:145056
allocator_rss_ratio:2.40
allocator_rss_bytes:2670592
rss_overhead_ratio:2.69
rss_overhead_bytes:7753728
mem_fragmentation_ratio:12.90
mem_fragmentation_bytes:11377040
mem_not_counted_for_evict:0
mem_replication_backlog:0
mem_total_replication_buffers:0
mem_clients_slaves:0
mem_clients_normal:22272
mem_cluster_links:0
mem_aof_buffer:0
mem_allocator:jemalloc-5.3.0
active_defrag_running:0
lazyfree_pending_objects:0
lazyfreed_objects:0

# Stats
total_connections_received:1
total_commands_processed:51
instantaneous_ops_per_sec:31
total_net_input_bytes:4796
total_net_output_bytes:501
total_net_repl_input_bytes:0
total_net_repl_output_bytes:0
instantaneous_input_kbps:2.92
instantaneous_output_kbps:0.31
instantaneous_input_repl_kbps:0.00
instantaneous_output_repl_kbps:0.00
rejected_connections:0
sync_full:0
sync_partial_ok:0
sync_partial_err:0
expired_keys:0
expired_stale_perc:0.00
expired_time_cap_reached_count:0
expire_cycle_cpu_milliseconds:0
evicted_keys:0
evicted_clients:0
total_eviction_exceeded_time:0
current_eviction_exceeded_time:0
keyspace_hits:0
keyspace_misses:0
pubsub_channels:0
pubsub_patterns:0
pubsubshard_channels:0
latest_fork_usec:0
total_forks:0
migrate_cached_sockets:0
slave_expires_tracked_keys:0
active_defrag_hits:0
active_defrag_misses:0
active_defrag_key_hits:0
active_defrag_key_misses:0
total_active_defrag_time:0
current_active_defrag_time:0
tracking_total_keys:0
tracking_total_items:0
tracking_total_prefixes:0
unexpected_error_replies:0
total_error_replies:2
dump_payload_sanitizations:0
total_reads_processed:53
total_writes_processed:52
io_threaded_reads_processed:0
io_threaded_writes_processed:0
reply_buffer_shrinks:1
reply_buffer_expands:0

# Modules

# Errorstats
errorstat_ERR:count=2

# Keyspace
db0:keys=50,expires=10,avg_ttl=299897"""

#: ``INFO`` of a server with no memory limit (``maxmemory:0``): 50 keys, 10 with a TTL.
NO_LIMIT = _LINES.replace("\n", "\r\n") + "\r\n"

#: The same server with ``maxmemory`` 2,000,000 bytes, 1,500,000 of them used (75 %).
WITH_LIMIT = (NO_LIMIT
              .replace("used_memory:958536\r\n", "used_memory:1500000\r\n")
              .replace("used_memory_human:936.07K\r\n", "used_memory_human:1.43M\r\n")
              .replace("maxmemory:0\r\n", "maxmemory:2000000\r\n")
              .replace("maxmemory_human:0B\r\n", "maxmemory_human:1.91M\r\n")
              .replace("maxmemory_policy:noeviction", "maxmemory_policy:allkeys-lru"))
