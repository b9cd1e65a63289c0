// Open MPI's C API (Debian package libopenmpi-dev; include path from pkg-config ompi-c) for
// Strata's data-parallel training. MPI_COMM_WORLD, the datatypes, the reduction ops,
// MPI_IN_PLACE, MPI_STATUS_IGNORE and MPI_ERRORS_ARE_FATAL are macros over library globals, which Swift cannot
// import; the static inline functions below hand them over as values.
// Leaves out: everything Strata does not call (one-sided, I/O, topologies).
#include <mpi.h>

static inline MPI_Comm strata_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype strata_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype strata_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype strata_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype strata_mpi_long_long(void) { return MPI_LONG_LONG; }
static inline MPI_Op strata_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op strata_mpi_max(void) { return MPI_MAX; }
static inline MPI_Op strata_mpi_min(void) { return MPI_MIN; }
static inline void *strata_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Errhandler strata_mpi_errors_are_fatal(void) { return MPI_ERRORS_ARE_FATAL; }
static inline int strata_mpi_success(void) { return MPI_SUCCESS; }
static inline MPI_Status *strata_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline int strata_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
