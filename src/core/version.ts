/** jobterm's version, as presence reports it and `jobterm --version` prints it; a unit test keeps it equal to package.json's. */
export const JOBTERM_VERSION = '0.1.0';
